//! The scaling figure of issue 17, drawn from the runs `benches/scale.sh` appends to its
//! `scale.csv`: throughput (input MB per second of wall time, best run) and peak RSS
//! (largest run) of `h5copy` and `trialflow run` of `rectify`, against input size (trials
//! of 10 000 samples x 32 channels) and against trial count (about 1 GB, 32 channels).
//! A figure made in Rust with the plot crate's embedded font, so reproducing it needs no
//! Python plotting stack.
//!
//! ```sh
//! benches/scale.sh DIR            # appends every run to DIR/scale.csv
//! cargo run --release -p trialflow-plot --example scaling_figure -- DIR/scale.csv out.png
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::process::ExitCode;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One recording's runs of one tool, reduced to what the figure shows.
#[derive(Default)]
struct Cell {
    trials: f64,
    samples: f64,
    channels: f64,
    bytes: f64,
    best_seconds: f64,
    peak_rss_kb: f64,
    loads: Vec<f64>,
}

/// Cells by (recording, tool), in file order of first appearance within each tool.
type Cells = BTreeMap<(String, String), Cell>;

const TOOLS: [(&str, &str, RGBColor); 4] = [
    ("h5copy", "h5copy (floor)", RGBColor(127, 127, 127)),
    (
        "parallel",
        "trialflow, parallel (2 workers)",
        RGBColor(31, 119, 180),
    ),
    (
        "sequential",
        "trialflow, sequential",
        RGBColor(255, 127, 14),
    ),
    // `DURABLE=false benches/scale.sh`: no syncs, as h5copy runs.
    (
        "parallel-nosync",
        "trialflow, parallel, no sync",
        RGBColor(44, 160, 44),
    ),
];

fn read_cells(path: &str) -> Result<Cells, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{path}: empty"))?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{path}: no column `{name}` (not a scale.sh CSV?)"))
    };
    let [rec, trials, samples, channels, bytes, tool, seconds, rss, load] = [
        "recording",
        "trials",
        "samples",
        "channels",
        "bytes",
        "tool",
        "seconds",
        "peak_rss_kb",
        "load1",
    ]
    .map(col);
    let (rec, tool) = (rec?, tool?);
    let nums = [trials?, samples?, channels?, bytes?, seconds?, rss?, load?];
    let mut cells = Cells::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| -> Result<f64, String> {
            f.get(i)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("{path}: line {}: column {} is not a number", n + 2, i + 1))
        };
        let v: Vec<f64> = nums.iter().map(|&i| num(i)).collect::<Result<_, _>>()?;
        let key = (f[rec].to_string(), f[tool].to_string());
        let c = cells.entry(key).or_insert_with(|| Cell {
            best_seconds: f64::INFINITY,
            ..Cell::default()
        });
        (c.trials, c.samples, c.channels, c.bytes) = (v[0], v[1], v[2], v[3]);
        c.best_seconds = c.best_seconds.min(v[4]);
        c.peak_rss_kb = c.peak_rss_kb.max(v[5]);
        c.loads.push(v[6]);
    }
    Ok(cells)
}

/// One panel: a metric of each tool's cells that `pick` admits, against `x` of the cell.
struct Panel<'a> {
    caption: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    x: fn(&Cell) -> f64,
    y: fn(&Cell) -> f64,
    pick: fn(&Cell) -> bool,
    /// Labels trialflow's points with their time over h5copy's on the same recording.
    ratio: bool,
}

fn by_size(c: &Cell) -> bool {
    c.samples == 10_000.0 && c.channels == 32.0
}
fn by_count(c: &Cell) -> bool {
    c.channels == 32.0 && (0.9e9..1.1e9).contains(&c.bytes)
}
fn gigabytes(c: &Cell) -> f64 {
    c.bytes / 1e9
}
fn trial_count(c: &Cell) -> f64 {
    c.trials
}
fn throughput(c: &Cell) -> f64 {
    c.bytes / 1e6 / c.best_seconds
}
fn rss_mb(c: &Cell) -> f64 {
    c.peak_rss_kb / 1024.0
}

/// A tool's points of a panel, by x, each with the label written beside it.
fn series(cells: &Cells, p: &Panel, tool: &str) -> Vec<(f64, f64, String)> {
    let mut pts: Vec<(f64, f64, String)> = cells
        .iter()
        .filter(|((_, t), c)| t == tool && (p.pick)(c))
        .map(|((rec, _), c)| {
            let y = (p.y)(c);
            let floor = cells.get(&(rec.clone(), "h5copy".to_string()));
            let label = match floor {
                Some(h) if p.ratio && tool != "h5copy" => {
                    format!("{y:.0} ({:.2}x)", c.best_seconds / h.best_seconds)
                }
                _ => format!("{y:.0}"),
            };
            ((p.x)(c), y, label)
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

/// Log-axis labels at 1, 2 and 5 times a power of ten only.
fn log_label(v: &f64) -> String {
    let mantissa = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 1e-6)
    {
        let rounded = (v * 1000.0).round() / 1000.0;
        format!("{rounded}")
    } else {
        String::new()
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    cells: &Cells,
    p: &Panel,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let all: Vec<Vec<(f64, f64, String)>> = TOOLS.iter().map(|t| series(cells, p, t.0)).collect();
    let pts = all.iter().flatten();
    let (x0, x1) = pts.clone().fold((f64::INFINITY, 0f64), |(lo, hi), q| {
        (lo.min(q.0), hi.max(q.0))
    });
    let y1 = pts.fold(0f64, |hi, q| hi.max(q.1));
    if !x0.is_finite() {
        return Err(format!("no runs for the panel \"{}\"", p.caption).into());
    }
    let font = |size| ("sans-serif", size).into_font().color(&BLACK);
    let mut chart = ChartBuilder::on(area)
        .caption(p.caption, font(17))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(48)
        .y_label_area_size(70)
        // Headroom above the data for the legend.
        .build_cartesian_2d((x0 / 1.6..x1 * 1.6).log_scale(), 0.0..y1 * 1.45)?;
    chart
        .configure_mesh()
        .x_desc(p.x_desc)
        .y_desc(p.y_desc)
        .label_style(font(13))
        .axis_desc_style(font(14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_label_formatter(&log_label)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    // A tool without runs (no `DURABLE=false` rows, say) gets no legend entry either.
    for ((_, label, colour), pts) in TOOLS.iter().zip(&all).filter(|(_, pts)| !pts.is_empty()) {
        let colour = *colour;
        let xy = || pts.iter().map(|q| (q.0, q.1));
        chart
            .draw_series(LineSeries::new(xy(), colour.stroke_width(2)))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(2))
            });
        chart.draw_series(xy().map(|q| Circle::new(q, 4, colour.filled())))?;
        let anchor = Pos::new(HPos::Left, VPos::Bottom);
        chart.draw_series(
            pts.iter()
                .map(|q| Text::new(q.2.clone(), (q.0, q.1), font(12).pos(anchor))),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(font(13))
        .draw()?;
    Ok(())
}

fn run(csv: &str, out: &str) -> Result<(), Box<dyn Error>> {
    let cells = read_cells(csv)?;
    trialflow_plot::register_font();
    let root = BitMapBackend::new(out, (1400, 1000)).into_drawing_area();
    root.fill(&WHITE)?;
    let loads: Vec<f64> = cells
        .values()
        .flat_map(|c| c.loads.iter().copied())
        .collect();
    let (lo, hi) = loads
        .iter()
        .fold((f64::INFINITY, 0f64), |(l, h), &v| (l.min(v), h.max(v)));
    let title = format!(
        "rectify as a whole process, best run per point (labels: MB/s or MB, and trialflow / h5copy time); {} cores, load average {lo:.1} to {hi:.1} during the runs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let body = root.titled(&title, ("sans-serif", 18).into_font().color(&BLACK))?;
    let panels = body.split_evenly((2, 2));
    let specs = [
        Panel {
            caption: "Throughput against input size (10 000 x 32 trials)",
            x_desc: "input (GB, log scale)",
            y_desc: "input MB per second (wall)",
            x: gigabytes,
            y: throughput,
            pick: by_size,
            ratio: true,
        },
        Panel {
            caption: "Throughput against trial count (1 GB, 32 channels)",
            x_desc: "trials (log scale)",
            y_desc: "input MB per second (wall)",
            x: trial_count,
            y: throughput,
            pick: by_count,
            ratio: true,
        },
        Panel {
            caption: "Peak RSS against input size",
            x_desc: "input (GB, log scale)",
            y_desc: "peak RSS (MB)",
            x: gigabytes,
            y: rss_mb,
            pick: by_size,
            ratio: false,
        },
        Panel {
            caption: "Peak RSS against trial count",
            x_desc: "trials (log scale)",
            y_desc: "peak RSS (MB)",
            x: trial_count,
            y: rss_mb,
            pick: by_count,
            ratio: false,
        },
    ];
    for (area, spec) in panels.iter().zip(&specs) {
        draw_panel(area, &cells, spec)?;
    }
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [csv, out] = args.as_slice() else {
        eprintln!(
            "usage: scaling_figure SCALE.CSV OUT.png (SCALE.CSV: written by benches/scale.sh)"
        );
        return ExitCode::from(2);
    };
    match run(csv, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaling_figure: {e}");
            ExitCode::from(2)
        }
    }
}
