package jepsen

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Hand-written SVG: two small plots do not justify a plotting dependency.

const (
	plotW, plotH           = 1000, 420
	padL, padR, padT, padB = 70, 20, 30, 50
)

var typeColor = map[Type]string{OK: "#2a9d3f", Fail: "#d62728", Info: "#ff9f1c"}

type plot struct {
	b          strings.Builder
	end        time.Duration
	yMin, yMax float64
	logY       bool
}

func (p *plot) x(t time.Duration) float64 {
	return padL + float64(t)/float64(max(p.end, 1))*(plotW-padL-padR)
}

func (p *plot) y(v float64) float64 {
	lo, hi, v2 := p.yMin, p.yMax, v
	if p.logY {
		lo, hi, v2 = math.Log10(lo), math.Log10(hi), math.Log10(max(v, p.yMin))
	}
	f := (v2 - lo) / max(hi-lo, 1e-9)
	return plotH - padB - f*(plotH-padT-padB)
}

func (p *plot) begin(title, ylabel string, ws []window) {
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", plotW, plotH)
	fmt.Fprintf(&p.b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="18" font-size="14">%s</text>`+"\n", padL, html.EscapeString(title))
	for i, w := range ws {
		x0, x1 := p.x(w.start), p.x(w.end)
		fmt.Fprintf(&p.b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#e63946" fill-opacity="0.12"><title>%s</title></rect>`+"\n",
			x0, padT, max(x1-x0, 1), plotH-padT-padB, html.EscapeString(w.label))
		fmt.Fprintf(&p.b, `<text x="%.1f" y="%d" fill="#a4161a" font-size="9">%s</text>`+"\n", x0+2, padT+10+(i%4)*10, html.EscapeString(w.label))
	}
	// Axes, ticks.
	fmt.Fprintf(&p.b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, padL, plotH-padB, plotW-padR, plotH-padB)
	fmt.Fprintf(&p.b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", padL, padT, padL, plotH-padB)
	secs := p.end.Seconds()
	step := math.Max(1, math.Pow(10, math.Floor(math.Log10(math.Max(secs, 1)))))
	if secs/step < 4 {
		step /= 2
	}
	for t := 0.0; t <= secs; t += step {
		x := p.x(time.Duration(t * float64(time.Second)))
		fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/><text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n",
			x, plotH-padB, x, plotH-padB+4, x, plotH-padB+16, t)
	}
	fmt.Fprintf(&p.b, `<text x="%d" y="%d" text-anchor="middle">time since the workload began (s)</text>`+"\n", (plotW+padL)/2, plotH-12)
	fmt.Fprintf(&p.b, `<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (plotH)/2, html.EscapeString(ylabel))
	var ticks []float64
	if p.logY {
		for v := p.yMin; v <= p.yMax*1.0001; v *= 10 {
			ticks = append(ticks, v)
		}
	} else {
		for i := 0; i <= 4; i++ {
			ticks = append(ticks, p.yMin+(p.yMax-p.yMin)*float64(i)/4)
		}
	}
	for _, v := range ticks {
		y := p.y(v)
		fmt.Fprintf(&p.b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n",
			padL, y, plotW-padR, y, padL-4, y+4, math.Round(v*10)/10)
	}
}

func (p *plot) legend(items []Type) {
	for i, t := range items {
		x := plotW - padR - 60*(len(items)-i)
		fmt.Fprintf(&p.b, `<rect x="%d" y="8" width="10" height="10" fill="%s"/><text x="%d" y="17">%s</text>`+"\n", x, typeColor[t], x+14, t)
	}
}

func (p *plot) finish() string {
	p.b.WriteString("</svg>\n")
	return p.b.String()
}

// latencySVG plots every operation's latency (log scale) at its start,
// colored by outcome, with the faults' windows shaded.
func latencySVG(ops []*Operation, ws []window, end time.Duration) string {
	p := &plot{end: end, yMin: 0.1, yMax: 10, logY: true}
	for _, o := range ops {
		for p.yMax < float64(o.End-o.Start)/1e6 {
			p.yMax *= 10
		}
	}
	p.begin("latency of every operation (ms, log scale), faults shaded", "latency (ms)", ws)
	for _, o := range ops {
		ms := math.Max(float64(o.End-o.Start)/1e6, p.yMin)
		fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="1.6" fill="%s" fill-opacity="0.6"/>`+"\n",
			p.x(time.Duration(o.Start)), p.y(ms), typeColor[clientType(o)])
	}
	p.legend([]Type{OK, Fail, Info})
	return p.finish()
}

// throughputSVG plots completed operations per second by outcome.
func throughputSVG(ops []*Operation, ws []window, end time.Duration) string {
	n := int(end/time.Second) + 1
	counts := map[Type][]int{OK: make([]int, n), Fail: make([]int, n), Info: make([]int, n)}
	top := 1
	for _, o := range ops {
		i := min(int(time.Duration(o.End)/time.Second), n-1)
		if c, ok := counts[clientType(o)]; ok {
			c[i]++
			top = max(top, c[i])
		}
	}
	p := &plot{end: end, yMin: 0, yMax: float64(top)}
	p.begin("throughput (completed operations per second), faults shaded", "operations / s", ws)
	for _, t := range []Type{OK, Fail, Info} {
		var pts []string
		for i, c := range counts[t] {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.x(time.Duration(i)*time.Second+time.Second/2), p.y(float64(c))))
		}
		fmt.Fprintf(&p.b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", typeColor[t], strings.Join(pts, " "))
	}
	p.legend([]Type{OK, Fail, Info})
	return p.finish()
}

// clientType is the outcome as the client saw it: a write resolved from
// the log afterwards was info when it returned.
func clientType(o *Operation) Type {
	if o.Resolved != "" {
		return Info
	}
	return o.Type
}
