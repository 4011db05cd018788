// Command pcrextend is stead's systemd-pcrextend: it measures a word into a TPM PCR, or
// serves io.systemd.PCRExtend on /run/systemd/io.systemd.PCRExtend. See docs/pcrextend.md.
// This file only maps flags (lib/cli) to services/pcrextend.Options.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/stead-os/stead/lib/cli"
	"github.com/stead-os/stead/lib/conf"
	"github.com/stead-os/stead/lib/tpm"
	"github.com/stead-os/stead/services/pcrextend"
)

var version = "dev"

const usage = `Usage: pcrextend [OPTION…] WORD
       pcrextend [OPTION…]

Measure WORD into a TPM PCR (every active bank) and the measurement log. Without
WORD, serve io.systemd.PCRExtend over Varlink.

Options:
  -h --help              Show this help and exit
     --version           Show the version and exit
     --bank=DIGEST       Extend only this PCR bank (sha1, sha256, …; repeatable)
     --pcr=INDEX         The PCR to extend (0…23; default 11)
     --nvpcr=NAME        Extend this NvPCR (none is defined: always fails)
     --tpm2-device=PATH  The TPM: a device node, a socket, device:PATH,
                         swtpm:path=SOCKET, swtpm:host=H,port=P, mssim:host=H,port=P
     --graceful          Exit successfully when there is no TPM
     --event-type=TYPE   Event type recorded in the log ('help' lists them)

stead additions:
     --root=DIR          Resolve every path under DIR
     --exit-idle=SEC     Activated on a listening socket: exit after SEC without clients

See docs/pcrextend.md.
`

func main() {
	o := pcrextend.Options{Root: "/", Version: version, PCR: pcrextend.DefaultPCR, IdleExit: pcrextend.DefaultIdleExit}
	c := command(&o)
	switch args := c.ParseOrExit(os.Args[1:]); len(args) {
	case 0:
	case 1:
		o.Word, o.HaveWord = args[0], true
	default:
		c.Fail(errors.New("expected at most one argument, the word to measure"))
	}
	os.Exit(pcrextend.Main(context.Background(), o))
}

func command(o *pcrextend.Options) *cli.Command {
	c := cli.New("pcrextend", usage, version)
	c.String(&o.Root, "root", 0)
	c.Func("bank", 0, func(v string) error {
		b, err := tpm.ParseBank(v)
		o.Banks = append(o.Banks, b)
		return err
	})
	c.Func("pcr", 0, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n >= tpm.NumPCRs {
			return fmt.Errorf("PCR index %q out of range 0…%d", v, tpm.NumPCRs-1)
		}
		o.PCR = n
		return nil
	})
	c.String(&o.NvPCR, "nvpcr", 0)
	c.String(&o.Device, "tpm2-device", 0)
	c.Bool(&o.Graceful, "graceful", 0)
	c.Func("event-type", 0, func(v string) error {
		if v == "help" {
			fmt.Println(strings.Join(pcrextend.EventTypes, "\n"))
			os.Exit(0)
		}
		t, err := pcrextend.ParseEventType(v)
		o.EventType = t
		return err
	})
	c.Func("exit-idle", 0, func(v string) error {
		t, err := conf.ParseTimespan(v)
		o.IdleExit = t
		return err
	})
	return c
}
