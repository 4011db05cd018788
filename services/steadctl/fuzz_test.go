package steadctl

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stead-os/stead/lib/api/iosystemdunit"
)

// FuzzUnitReply: whatever a manager sends as a List reply, decoding it and rendering show,
// status and the table does not panic.
func FuzzUnitReply(f *testing.F) {
	f.Add(`{"context":{"ID":"a.service"},"runtime":{"ActiveState":"failed","Service":{"MainPID":{"pid":3},"Result":"exit_code","ExecMain":{"PID":4,"Code":2,"Status":9}}}}`)
	f.Add(`{"context":{"ID":"b","CGroup":{"ManagedOOMMemoryPressureLimit":4294967295}},"runtime":{"ActiveEnterTimestamp":{"realtime":-1}}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var u iosystemdunit.Unit
		if json.Unmarshal([]byte(raw), &u) != nil {
			return
		}
		_ = writeShow(io.Discard, properties(&u), showOptions{})
		_ = writeStatus(io.Discard, &u, t.TempDir(), time.Unix(1e9, 0))
		_ = writeTable(io.Discard, listRows([]iosystemdunit.Unit{u}, listFilter{all: true}), true, true)
	})
}
