package starter

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/bsw-dsr/dsr/register"
)

// MaxReferralFile bounds a referral file as the API bounds a body.
const MaxReferralFile = 1 << 20

// Command runs `dsr start` with the arguments after "start":
//
//	dsr start --file referral.json   submit one referral (as POST /api/v1/referrals);
//	                                 prints the person's id on stdout
//	dsr start --csv register.csv     import a register (Import), progress and a
//	                                 summary on stderr
//
// "-" reads standard input. Both are idempotent: a referral for an NHS
// number already referred or on the register prints the existing id and
// succeeds; a re-run import imports nothing twice. A returned error is the
// one-line reason to print before exiting non-zero: a refused referral, an
// import with refused rows (the good rows are imported all the same), or a
// failure.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer, d Deps) error {
	fs := flag.NewFlagSet("dsr start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "submit the referral in this JSON `file` (the body of POST /api/v1/referrals)")
	csvFile := fs.String("csv", "", "import the register in this CSV `file` (columns: see the README)")
	workers := fs.Int("workers", DefaultImportWorkers, "with --csv: how many rows to import at once")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dsr start --file referral.json | dsr start --csv register.csv")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errors.New("dsr start: " + err.Error())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dsr start: unexpected argument %q", fs.Arg(0))
	}
	if (*file == "") == (*csvFile == "") {
		fs.Usage()
		return errors.New("dsr start: give exactly one of --file and --csv")
	}
	if *workers < 1 || *workers > 64 {
		return errors.New("dsr start: --workers must be from 1 to 64")
	}
	if d.Actor.Role == "" {
		d.Actor = cliActor()
	}
	if *file != "" {
		return startFile(ctx, *file, stdout, stderr, d)
	}
	return startCSV(ctx, *csvFile, *workers, stdout, stderr, d)
}

// cliActor names the command in the audit log: which account on which
// machine ran it.
func cliActor() register.Actor {
	who := "unknown user"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return register.Actor{Role: StarterRole, ClientAddr: "dsr start: " + who + "@" + host}
}

func open(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("dsr start: %w", err)
	}
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, nil
}

func startFile(ctx context.Context, name string, stdout, stderr io.Writer, d Deps) error {
	f, _, err := open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxReferralFile+1))
	if err != nil {
		return fmt.Errorf("dsr start: read %s: %w", name, err)
	}
	if len(body) > MaxReferralFile {
		return fmt.Errorf("dsr start: %s is over 1 MiB, the most a referral may be", name)
	}
	req, err := register.DecodeReferral(strings.NewReader(string(body)))
	if err == nil {
		refs := &Referrals{Store: d.Store, Temporal: d.Temporal, Logger: d.logger(), Localities: d.Localities}
		var id string
		id, err = refs.Submit(ctx, req, d.Actor, d.now(), Options{})
		if err == nil {
			fmt.Fprintf(stderr, "referred: the person's workflow has started; id %s\n", id)
			fmt.Fprintln(stdout, id)
			return nil
		}
	}
	var e *register.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("dsr start: %w", err)
	}
	switch e.Kind {
	case register.KindConflict:
		fmt.Fprintf(stderr, "already referred or on the register: nothing submitted; id %s\n", e.ID)
		fmt.Fprintln(stdout, e.ID)
		return nil
	case register.KindInvalid:
		writeFields(stderr, e.Fields)
		if len(e.Fields) == 0 {
			return fmt.Errorf("dsr start: referral refused: %s", e.Message)
		}
		return fmt.Errorf("dsr start: referral refused: %d problems (listed above)", len(e.Fields))
	}
	return fmt.Errorf("dsr start: %s: %s", name, e.Message)
}

func writeFields(w io.Writer, fields map[string]string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s: %s\n", k, fields[k])
	}
}

func startCSV(ctx context.Context, name string, workers int, stdout, stderr io.Writer, d Deps) error {
	f, size, err := open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := ImportOptions{Workers: workers, Progress: stderr, Size: size, Terminal: isTerminal(stderr)}
	sum, err := Import(ctx, d, f, opts)
	var e *register.Error
	if errors.As(err, &e) && sum.Rows == 0 {
		// The header is wrong: nothing was read.
		writeFields(stderr, e.Fields)
		return fmt.Errorf("dsr start: %s: %s", name, e.Message)
	}
	if werr := sum.WriteSummary(stderr); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("dsr start: import stopped after %d rows (run it again to carry on; nothing is imported twice): %w", sum.Rows, err)
	}
	fmt.Fprintf(stdout, "imported %d, already on the register %d, refused %d\n", sum.Imported, len(sum.Already), len(sum.Refused))
	if len(sum.Refused) > 0 {
		return fmt.Errorf("dsr start: %d rows refused (listed above); the other rows are imported", len(sum.Refused))
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
