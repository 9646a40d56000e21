// Command chart draws the benchmark ratios (Eddy / other system) as a PNG of
// horizontal bars: a grey line marks parity (1.0), a red tick the issue's
// target. It is a module of its own so its font package stays out of Eddy's
// go.mod. Input: the JSON the driver writes (bench/cmd/bench).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

type ratio struct {
	Workload string  `json:"workload"`
	System   string  `json:"system"`
	Value    float64 `json:"value"`
	What     string  `json:"what"`
	Goal     float64 `json:"goal"`
	Higher   bool    `json:"higher"`
}

func main() {
	in := flag.String("in", "", "ratios JSON")
	out := flag.String("out", "ratios.png", "PNG to write")
	title := flag.String("title", "Eddy / other", "title")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{20, 20, 20, 255}
	grey  = color.RGBA{150, 150, 150, 255}
	good  = color.RGBA{46, 139, 87, 255}
	bad   = color.RGBA{205, 92, 92, 255}
	red   = color.RGBA{200, 0, 0, 255}
)

func run(in, out, title string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rs []ratio
	if err := json.Unmarshal(data, &rs); err != nil {
		return err
	}
	const (
		labelW = 300
		barH   = 22
		gap    = 8
		top    = 50
		left   = 10
		plotW  = 520
		right  = 80
	)
	h := top + len(rs)*(barH+gap) + 40
	w := left + labelW + plotW + right
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	maxV := 2.5
	for _, r := range rs {
		if r.Value > maxV {
			maxV = r.Value
		}
		if r.Goal > maxV {
			maxV = r.Goal
		}
	}
	x0 := left + labelW
	xOf := func(v float64) int { return x0 + int(v/maxV*float64(plotW)) }
	text(img, left, 20, title, black)
	text(img, left, 36, "bars: Eddy / other (throughput, restore speed: higher is better; latency p99: lower is better); grey: 1.0; red: target", grey)
	for i, r := range rs {
		y := top + i*(barH+gap)
		label := fmt.Sprintf("%s vs %s (%s)", r.Workload, r.System, r.What)
		text(img, left, y+15, label, black)
		met := r.Value >= r.Goal
		if !r.Higher {
			met = r.Value <= r.Goal
		}
		c := good
		if r.Goal > 0 && !met {
			c = bad
		}
		fill(img, x0, y, xOf(r.Value), y+barH, c)
		text(img, xOf(r.Value)+4, y+15, fmt.Sprintf("%.2f", r.Value), black)
		if r.Goal > 0 {
			gx := xOf(r.Goal)
			fill(img, gx-1, y-2, gx+1, y+barH+2, red)
		}
	}
	bottom := top + len(rs)*(barH+gap)
	one := xOf(1)
	fill(img, one, top-4, one+1, bottom, grey)
	fill(img, x0, bottom, x0+plotW, bottom+1, grey)
	for v := 0.0; v <= maxV+1e-9; v += 0.5 {
		x := xOf(v)
		fill(img, x, bottom, x+1, bottom+5, grey)
		text(img, x-8, bottom+18, fmt.Sprintf("%.1f", v), grey)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	if x1 < x0 {
		x0, x1 = x1, x0
	}
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: &image.Uniform{c}, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
