// Package cli reads command lines the way systemd's tools do (getopt_long), on top of the
// standard flag package, and gives every stead binary the same --help, --version and usage
// errors.
//
// What it accepts, as getopt_long does:
//   - long options as --name, --name=value or --name value, and any unambiguous prefix of a
//     long name (--ver for --version);
//   - short options as -x, -xVALUE or -x VALUE, and several boolean ones together (-qa);
//   - options and arguments in any order (they are permuted), until "--", after which
//     everything is an argument;
//   - a boolean long option also as --name=yes|no|true|false|1|0.
//
// Every Command answers -h/--help (its usage text on standard output, exit 0) and --version
// ("NAME (stead) VERSION", exit 0). A usage error prints "NAME: what is wrong" on standard
// error and exits 1, as upstream's tools do.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes of ParseOrExit and Fail, as upstream's tools use them.
const (
	ExitSuccess = 0
	ExitFailure = 1
)

// Errors Parse returns for --help and --version; ParseOrExit handles them.
var (
	ErrHelp    = errors.New("help requested")
	ErrVersion = errors.New("version requested")
)

// Command is one program's command line: its options, usage text and version.
type Command struct {
	Name    string // the program name in messages, e.g. "networkctl"
	Usage   string // the --help text
	Version string

	fs    *flag.FlagSet
	short map[byte]string // short option → long name
	help  bool
	vers  bool

	// Stdout and Stderr default to the process's; tests replace them.
	Stdout, Stderr io.Writer
	// Exit defaults to os.Exit; tests replace it.
	Exit func(code int)
}

// New makes a Command with -h/--help and --version defined.
func New(name, usage, version string) *Command {
	c := &Command{Name: name, Usage: usage, Version: version, fs: flag.NewFlagSet(name, flag.ContinueOnError),
		short: map[byte]string{}, Stdout: os.Stdout, Stderr: os.Stderr, Exit: os.Exit}
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	c.Bool(&c.help, "help", 'h')
	c.Bool(&c.vers, "version", 0)
	return c
}

// Bool defines a boolean option --long (and -short unless short is 0).
func (c *Command) Bool(p *bool, long string, short byte) { c.Var(boolValue{p}, long, short) }

// String defines an option --long=VALUE (and -short VALUE unless short is 0); p keeps its
// value as the default.
func (c *Command) String(p *string, long string, short byte) { c.Var(stringValue{p}, long, short) }

// Func defines an option --long=VALUE (and -short VALUE unless short is 0) whose value fn
// checks and takes.
func (c *Command) Func(long string, short byte, fn func(string) error) {
	c.Var(funcValue(fn), long, short)
}

// JSON defines --json=pretty|short|off, upstream's tools' JSON output option: *p becomes
// "pretty" or "short", and "" for off. bare is the mode --json alone selects (upstream's tools
// differ: systemctl pretty, others short); "" makes the value required.
func (c *Command) JSON(p *string, bare string) {
	set := func(v string) error {
		switch v {
		case "pretty", "short":
			*p = v
		case "off":
			*p = ""
		default:
			return fmt.Errorf("unknown --json= mode %q (pretty, short, off)", v)
		}
		return nil
	}
	if bare == "" {
		c.Func("json", 0, set)
		return
	}
	c.Var(optionalValue{bare: bare, set: set}, "json", 0)
}

// optionalValue is an option whose value may be left out (getopt's optional_argument): the
// flag package hands a boolean flag "true" when it is, which means bare.
type optionalValue struct {
	bare string
	set  func(string) error
}

func (o optionalValue) IsBoolFlag() bool { return true }
func (o optionalValue) String() string   { return "" }
func (o optionalValue) Set(v string) error {
	if v == "true" {
		v = o.bare
	}
	return o.set(v)
}

// Var defines an option whose value v parses; a v with IsBoolFlag() true takes no value.
func (c *Command) Var(v flag.Value, long string, short byte) {
	c.fs.Var(v, long, "")
	if short != 0 {
		c.short[short] = long
	}
}

// Parse reads args (without the program name) and returns the arguments that are not
// options. It returns ErrHelp or ErrVersion when those were asked for.
func (c *Command) Parse(args []string) ([]string, error) {
	var opts, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			long, err := c.resolve(name)
			if err != nil {
				return nil, err
			}
			switch {
			case hasValue:
			case c.isBool(long):
				value = "true"
			case i+1 < len(args):
				i++
				value = args[i]
			default:
				return nil, fmt.Errorf("option '--%s' requires an argument", long)
			}
			opts = append(opts, "--"+long+"="+value)
		case len(a) > 1 && a[0] == '-':
			n, more, err := c.shorts(a[1:], args[i+1:])
			if err != nil {
				return nil, err
			}
			opts = append(opts, more...)
			i += n
		default:
			rest = append(rest, a)
		}
	}
	if err := c.fs.Parse(opts); err != nil {
		return nil, c.cleanError(err)
	}
	switch {
	case c.help:
		return nil, ErrHelp
	case c.vers:
		return nil, ErrVersion
	}
	return rest, nil
}

// shorts expands one cluster of short options (after its "-"); next are the arguments after
// it, for an option whose value is the next argument. It returns how many of next it used.
func (c *Command) shorts(cluster string, next []string) (used int, opts []string, err error) {
	for j := 0; j < len(cluster); j++ {
		long, ok := c.short[cluster[j]]
		if !ok {
			return 0, nil, fmt.Errorf("invalid option -- '%c'", cluster[j])
		}
		if c.isBool(long) {
			opts = append(opts, "--"+long+"=true")
			continue
		}
		value := cluster[j+1:]
		if value == "" {
			if len(next) == 0 {
				return 0, nil, fmt.Errorf("option requires an argument -- '%c'", cluster[j])
			}
			value, used = next[0], 1
		}
		return used, append(opts, "--"+long+"="+value), nil
	}
	return 0, opts, nil
}

// resolve finds the long option a name or an unambiguous prefix of one stands for.
func (c *Command) resolve(name string) (string, error) {
	if c.fs.Lookup(name) != nil {
		return name, nil
	}
	var matches []string
	c.fs.VisitAll(func(f *flag.Flag) {
		if name != "" && strings.HasPrefix(f.Name, name) {
			matches = append(matches, f.Name)
		}
	})
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("unrecognized option '--%s'", name)
	}
	sort.Strings(matches)
	return "", fmt.Errorf("option '--%s' is ambiguous; possibilities: --%s", name, strings.Join(matches, " --"))
}

func (c *Command) isBool(long string) bool {
	f := c.fs.Lookup(long)
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// cleanError turns the flag package's wording into getopt's.
func (c *Command) cleanError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "invalid value "); ok {
		return errors.New("invalid value " + strings.ReplaceAll(name, "flag -", "option --"))
	}
	return err
}

// SetOutput directs the usage, version and error messages (a tool's run function passes
// its own streams).
func (c *Command) SetOutput(stdout, stderr io.Writer) { c.Stdout, c.Stderr = stdout, stderr }

// Args is Parse for a run function that returns its exit code: when the program is done
// (--help or --version printed, a usage error reported) ok is false and code is what to
// return.
func (c *Command) Args(args []string) (rest []string, code int, ok bool) {
	rest, err := c.Parse(args)
	switch {
	case err == nil:
		return rest, ExitSuccess, true
	case errors.Is(err, ErrHelp):
		fmt.Fprint(c.Stdout, c.Usage)
		return nil, ExitSuccess, false
	case errors.Is(err, ErrVersion):
		fmt.Fprintf(c.Stdout, "%s (stead) %s\n", c.Name, c.Version)
		return nil, ExitSuccess, false
	}
	fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
	return nil, ExitFailure, false
}

// ParseOrExit is Args for main: it exits when the program is done.
func (c *Command) ParseOrExit(args []string) []string {
	rest, code, ok := c.Args(args)
	if !ok {
		c.Exit(code)
	}
	return rest
}

// Report prints err as "NAME: err" on standard error and returns ExitFailure, for a run
// function to return.
func (c *Command) Report(err error) int {
	fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
	return ExitFailure
}

// Fail reports err as "NAME: err" on standard error and exits 1.
func (c *Command) Fail(err error) {
	c.FailCode(ExitFailure, err)
}

// FailCode reports err as "NAME: err" on standard error and exits with code.
func (c *Command) FailCode(code int, err error) {
	fmt.Fprintf(c.Stderr, "%s: %v\n", c.Name, err)
	c.Exit(code)
}

// boolValue is a boolean option; it also takes yes/no as systemd's parse_boolean does.
type boolValue struct{ p *bool }

func (b boolValue) IsBoolFlag() bool { return true }
func (b boolValue) String() string {
	if b.p == nil {
		return "false"
	}
	return fmt.Sprint(*b.p)
}

func (b boolValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		*b.p = true
	case "0", "no", "n", "false", "f", "off":
		*b.p = false
	default:
		return fmt.Errorf("invalid boolean %q", s)
	}
	return nil
}

type stringValue struct{ p *string }

func (s stringValue) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

func (s stringValue) Set(v string) error { *s.p = v; return nil }

type funcValue func(string) error

func (f funcValue) String() string     { return "" }
func (f funcValue) Set(s string) error { return f(s) }
