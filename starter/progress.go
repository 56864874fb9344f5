package starter

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// terminalRefresh is how often the progress line is redrawn on a terminal.
const terminalRefresh = 200 * time.Millisecond

// progress shows an import's progress: on a terminal one line redrawn in
// place (a bar when the file's size is known, and the counts); otherwise a
// plain line now and then, which reads well in a log.
type progress struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	size     int64
	read     *countingReader
	im       *importer
	started  time.Time

	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

func newProgress(opts ImportOptions, read *countingReader, im *importer, started time.Time) *progress {
	every := opts.ProgressEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	if opts.Terminal {
		every = terminalRefresh
	}
	return &progress{w: opts.Progress, terminal: opts.Terminal, every: every, size: opts.Size,
		read: read, im: im, started: started, done: make(chan struct{})}
}

func (p *progress) start() {
	p.wg.Go(func() {
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.draw()
			}
		}
	})
}

// stop ends the display; on a terminal the line is drawn a last time and
// left standing.
func (p *progress) stop() {
	p.stopOnce.Do(func() {
		close(p.done)
		p.wg.Wait()
		if p.terminal {
			p.draw()
			fmt.Fprintln(p.w)
		}
	})
}

func (p *progress) draw() {
	line := p.line()
	if p.terminal {
		// Carriage return and erase-line: the line is redrawn in place.
		fmt.Fprint(p.w, "\r\x1b[K"+line)
		return
	}
	fmt.Fprintln(p.w, "import: "+line)
}

func (p *progress) line() string {
	rows, imported, already, refused := p.im.counts()
	done := imported + already + refused
	elapsed := time.Since(p.started)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	var b strings.Builder
	if p.size > 0 {
		frac := min(1, float64(p.read.n.Load())/float64(p.size))
		if p.terminal {
			const width = 20
			full := int(frac * width)
			b.WriteString("[" + strings.Repeat("=", full) + strings.Repeat(" ", width-full) + "] ")
		}
		fmt.Fprintf(&b, "%3.0f%% ", 100*frac)
	}
	fmt.Fprintf(&b, "%d rows read: %d imported, %d already there, %d refused, %.0f rows/s",
		rows, imported, already, refused, rate)
	return b.String()
}
