package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNotInstalled is returned by Start when PostgreSQL's server programs
// (initdb and postgres) cannot be found.
var ErrNotInstalled = errors.New("PostgreSQL server programs (initdb, postgres) not found")

// debianBinGlob is where Debian and Ubuntu install each major version's
// server programs; only the client programs go on PATH there.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// binaries are the server programs Start runs.
type binaries struct {
	initdb, postgres string
}

// findBinaries looks for initdb and postgres on PATH, then in the newest
// version directory under /usr/lib/postgresql.
func findBinaries() (binaries, error) {
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return binaries{initdb: initdb, postgres: postgres}, nil
	}
	dirs, _ := filepath.Glob(debianBinGlob) // the pattern is valid
	// Newest major version first: "9.6" < "15" < "16" as numbers.
	sort.Slice(dirs, func(i, j int) bool {
		return majorVersion(dirs[i]) > majorVersion(dirs[j])
	})
	for _, dir := range dirs {
		b := binaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("%w on PATH nor in %s", ErrNotInstalled, debianBinGlob)
}

// majorVersion reads the version from /usr/lib/postgresql/<version>/bin;
// a directory that is not a number sorts last.
func majorVersion(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
