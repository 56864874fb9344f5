package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
)

// staticFiles is web/static/, built by build-assets.sh from the npm lock
// file and committed, so building the binary needs no npm.
//
//go:embed static
var staticFiles embed.FS

// staticFS is static/ without its directory prefix.
func staticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// assetVersion is a hash of every static file: it is part of each asset's
// URL, so a browser may cache an asset for a year and still gets a new one
// the moment any file changes.
var assetVersion = sync.OnceValue(func() string {
	fsys := staticFS()
	var names []string
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		h.Write([]byte(n))
		h.Write([]byte{0})
		sum := sha256.Sum256(b)
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
})

// staticURL is the versioned URL of a file in static/.
func staticURL(name string) string {
	return "/static/" + assetVersion() + "/" + strings.TrimPrefix(name, "/")
}

// staticHandler serves /static/<version>/<file>. Another version is 404:
// an old page asking for old assets must not cache new ones under the old
// name for a year.
func staticHandler() http.Handler {
	files := http.FileServerFS(staticFS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/static/")
		version, file, ok := strings.Cut(rest, "/")
		if !ok || version != assetVersion() || file == "" || strings.HasSuffix(file, "/") {
			http.NotFound(w, r)
			return
		}
		if _, err := fs.Stat(staticFS(), path.Clean(file)); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + path.Clean(file)
		r2.URL.RawPath = ""
		files.ServeHTTP(w, r2)
	})
}

// faviconHandler answers the request browsers make whatever the page says.
func faviconHandler(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(staticFS(), "assets/images/favicon.ico")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/x-icon")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

// Stylesheets are the versioned URLs of the pages' stylesheets, so that a
// page served outside this package (the sign-in page) can look the same.
func Stylesheets() []string {
	return []string{staticURL("nhsuk-frontend.min.css"), staticURL("app.css")}
}
