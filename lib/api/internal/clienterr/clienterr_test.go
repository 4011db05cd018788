package clienterr_test

import (
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/stead-os/stead/lib/api/internal/clienterr"
	"github.com/stead-os/stead/lib/api/iosteadmanager"
	"github.com/varlink/go/varlink"
)

func TestTyped(t *testing.T) {
	raw := json.RawMessage(`{"name":"x.service","loadState":"masked"}`)
	err := clienterr.Typed(&varlink.Error{Name: "io.stead.Manager.UnitNotLoaded", Parameters: &raw}, iosteadmanager.Dispatch_Error)
	var unl *iosteadmanager.UnitNotLoaded
	if !errors.As(err, &unl) || unl.LoadState != "masked" || unl.Name != "x.service" {
		t.Errorf("UnitNotLoaded: %#v", err)
	}
	for _, params := range []any{(*json.RawMessage)(nil), nil, "oneway"} {
		err = clienterr.Typed(&varlink.Error{Name: "io.stead.Manager.ShuttingDown", Parameters: params}, iosteadmanager.Dispatch_Error)
		var sd *iosteadmanager.ShuttingDown
		if !errors.As(err, &sd) || err.Error() != "io.stead.Manager.ShuttingDown" {
			t.Errorf("ShuttingDown with parameters %#v: %#v", params, err)
		}
	}
	other := &varlink.Error{Name: "io.systemd.Other", Parameters: &raw}
	if err := clienterr.Typed(other, iosteadmanager.Dispatch_Error); err != other {
		t.Errorf("other error: %#v", err)
	}
	if err := clienterr.Typed(io.EOF, iosteadmanager.Dispatch_Error); err != io.EOF {
		t.Errorf("io.EOF: %#v", err)
	}
	if clienterr.Typed(nil, iosteadmanager.Dispatch_Error) != nil {
		t.Error("nil")
	}
}
