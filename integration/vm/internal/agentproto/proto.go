// Package agentproto is the wire protocol between the VM harness (host) and its guest agent.
//
// The transport is a byte stream (a virtio-serial port in the guest, a unix socket on the
// host). Every message is one JSON object on one line ("\n"-terminated; encoding/json never
// emits a raw newline, and []byte fields travel as base64). Lines make the stream
// self-synchronising: a reader that starts mid-message, or meets a line it cannot parse,
// skips to the next newline. Requests carry an ID chosen by the host; the agent handles them
// concurrently and tags each response with the request's ID.
package agentproto

// PortName is the virtio-serial port name the agent looks for
// (/sys/class/virtio-ports/*/name).
const PortName = "stead.agent"

// Operations.
const (
	OpPing     = "ping"     // → Response{Uptime}
	OpRun      = "run"      // Argv, Env, Dir, Stdin, TimeoutMs → Stdout, Stderr, ExitCode
	OpCancel   = "cancel"   // Target: kill the run request with that ID
	OpPut      = "put"      // Path, Data, Mode: write a file (parents created)
	OpGet      = "get"      // Path → Data
	OpPoweroff = "poweroff" // reply, then sync and power off at once (like poweroff -f)
)

// MaxLine bounds one message, base64 included.
const MaxLine = 512 << 20

// Request is sent by the host.
type Request struct {
	ID        uint64   `json:"id"`
	Op        string   `json:"op"`
	Argv      []string `json:"argv,omitempty"`
	Env       []string `json:"env,omitempty"` // KEY=VALUE, added to the agent's base environment
	Dir       string   `json:"dir,omitempty"`
	Stdin     []byte   `json:"stdin,omitempty"`
	TimeoutMs int64    `json:"timeout_ms,omitempty"` // 0: none
	Target    uint64   `json:"target,omitempty"`
	Path      string   `json:"path,omitempty"`
	Data      []byte   `json:"data,omitempty"`
	Mode      uint32   `json:"mode,omitempty"`
}

// Response is sent by the agent.
type Response struct {
	ID       uint64  `json:"id"`
	Error    string  `json:"error,omitempty"` // the operation failed (not: the command exited non-zero)
	Stdout   []byte  `json:"stdout,omitempty"`
	Stderr   []byte  `json:"stderr,omitempty"`
	ExitCode int     `json:"exit_code"`        // -1 when killed by a signal
	Signal   string  `json:"signal,omitempty"` // the signal that killed the command
	TimedOut bool    `json:"timed_out,omitempty"`
	Data     []byte  `json:"data,omitempty"`
	Uptime   float64 `json:"uptime,omitempty"` // guest /proc/uptime seconds, on ping
	PID      int     `json:"pid,omitempty"`    // the agent's PID, on ping
}
