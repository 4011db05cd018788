// Package clienterr turns error replies into the error types varlink-go-interface-generator
// declares, for the typed clients of the generated lib/api packages.
package clienterr

import (
	"encoding/json"
	"errors"

	"github.com/varlink/go/varlink"
)

// Typed passes an error reply in err to dispatch, the generated package's Dispatch_Error,
// which returns a pointer to the error's type (*KeyNotFound, *JobFailed, …) for the
// interface's own errors and the error unchanged otherwise. A reply without parameters is
// given empty ones first: Dispatch_Error would hand it back untyped, or panic on a nil
// parameters value. Errors that are not replies pass unchanged.
func Typed(err error, dispatch func(error) error) error {
	var ve *varlink.Error
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	if raw, _ := ve.Parameters.(*json.RawMessage); raw == nil {
		empty := json.RawMessage("{}")
		ve = &varlink.Error{Name: ve.Name, Parameters: &empty}
	}
	return dispatch(ve)
}
