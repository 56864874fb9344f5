package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bsw-dsr/dsr/codec"
)

// What dsr dev keeps in its state directory, and the lock on it: in every
// build, since commands run beside dsr dev (start, user, retention) read
// them, even from a lean build.

// stateDirName is where dsr dev keeps everything, relative to the working
// directory.
const stateDirName = ".dsr"

var errStateBusy = errors.New("another dsr dev is already running with this state directory")

// lockState creates the state directory and takes its lock, so that two dsr
// dev processes never share one PostgreSQL or Temporal database. The lock
// goes with the process, however it ends.
func lockState(state string) (*os.File, error) {
	// Others may enter but not list it: PostgreSQL's own user must reach pg/.
	if err := os.MkdirAll(state, 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", state, err)
	}
	os.Chmod(state, 0o711)
	f, err := os.OpenFile(filepath.Join(state, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", state, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errStateBusy
		}
		return nil, fmt.Errorf("lock %s: %w", state, err)
	}
	return f, nil
}

// devPayloadKey reads the dev payload key from the state directory, making
// one the first time: Temporal's state there is encrypted with it.
func devPayloadKey(state string) (string, error) {
	path := filepath.Join(state, "payload.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	key := codec.GenerateKey()
	if err := writeFileAtomic(path, []byte(key+"\n")); err != nil {
		return "", fmt.Errorf("save payload key: %w", err)
	}
	return key, nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
