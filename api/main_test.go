package api

import (
	"testing"

	"github.com/bsw-dsr/dsr/internal/testenv"
)

// TestMain stops the test binary's PostgreSQL when the tests are done. It
// is the package's only TestMain (internal and external tests share it).
func TestMain(m *testing.M) { testenv.Main(m) }
