//! The SVG chart of `xtism bench --svg`: one group of bars per row, one bar per engine,
//! the median time on a logarithmic scale (rows differ by six orders of magnitude).

use std::path::Path;

use plotters::prelude::*;

use crate::bench::Results;
use crate::error::CliError;

/// Pixels of chart per row, and around the plotting area.
const ROW_WIDTH: u32 = 130;
const MARGINS: u32 = 160;
const HEIGHT: u32 = 520;

/// Draws `results` into the SVG file `path`.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_svg(path: &Path, results: &Results) -> Result<(), CliError> {
    draw(path, results)
        .map_err(|e| CliError::msg(format!("cannot write the chart {}: {e}", path.display())))
}

/// The bar heights' range in µs: whole decades around every median, with room for the
/// legend.
fn span(results: &Results) -> (f64, f64) {
    let values = results
        .rows
        .iter()
        .flat_map(|row| row.medians.iter().flatten())
        .map(|d| (d.as_secs_f64() * 1e6).max(1e-3));
    let (low, high) = values.fold((f64::INFINITY, 0f64), |(low, high), v| {
        (low.min(v), high.max(v))
    });
    if !low.is_finite() {
        return (0.01, 1.0);
    }
    // A third of a decade at least below the lowest bar, so that it shows, and a decade
    // and a half above the highest, where the legend sits.
    let low = 10f64.powf((low / 3.0).log10().floor());
    let high = 10f64.powf((high.log10() + 1.5).ceil()).max(low * 10.0);
    (low, high)
}

/// A value of the y axis: `0.01`, `1`, `10,000`.
fn axis_label(us: f64) -> String {
    if us >= 1.0 {
        crate::bench::group_thousands(us.round() as u64)
    } else {
        let text = format!("{us:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn draw(path: &Path, results: &Results) -> Result<(), Box<dyn std::error::Error>> {
    let count = results.rows.len().max(1);
    let width = MARGINS + ROW_WIDTH * count as u32;
    let root = SVGBackend::new(path, (width, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (low, high) = span(results);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "xtism bench: median time per operation (µs, log scale; lower is better)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..count as f64, (low..high).log_scale())?;

    // The x axis is continuous so that bars can sit side by side; ask for a tick every
    // tenth of a row and label only the middle of each row.
    let ids: Vec<&str> = results.rows.iter().map(|row| row.id.as_str()).collect();
    let label = |x: &f64| {
        let tenths = (x * 10.0).round() as i64;
        if tenths % 10 == 5 {
            let index = usize::try_from(tenths / 10).unwrap_or(usize::MAX);
            ids.get(index)
                .map(|id| (*id).to_owned())
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(count * 10 + 1)
        .x_label_formatter(&label)
        .set_tick_mark_size(LabelAreaPosition::Bottom, 0)
        .y_desc("µs")
        .y_label_formatter(&|v| axis_label(*v))
        .draw()?;

    let engines = results.engines.len().max(1);
    let bar = 0.8 / engines as f64;
    for (column, engine) in results.engines.iter().enumerate() {
        let color = Palette99::pick(column).filled();
        let bars = results.rows.iter().enumerate().filter_map(|(index, row)| {
            let median = row.medians.get(column).copied().flatten()?;
            let value = (median.as_secs_f64() * 1e6).max(low);
            let left = index as f64 + 0.1 + bar * column as f64;
            Some(Rectangle::new([(left, low), (left + bar, value)], color))
        });
        chart
            .draw_series(bars)?
            .label(*engine)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bench::Measured;

    #[test]
    fn the_span_covers_every_median_in_whole_decades() {
        let results = Results {
            engines: vec!["wasmtime", "wasmi"],
            rows: vec![Measured {
                id: "a".into(),
                about: String::new(),
                medians: vec![
                    Some(Duration::from_nanos(274)),
                    Some(Duration::from_millis(66)),
                ],
            }],
        };
        let (low, high) = span(&results);
        assert!((low - 0.01).abs() < 1e-12, "{low}");
        assert!((high - 10_000_000.0).abs() < 1e-3, "{high}");
    }

    #[test]
    fn axis_labels() {
        assert_eq!(axis_label(0.01), "0.01");
        assert_eq!(axis_label(1.0), "1");
        assert_eq!(axis_label(100_000.0), "100,000");
    }

    #[test]
    fn an_svg_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        let results = Results {
            engines: vec!["wasmtime", "wasmi", "wasmer"],
            rows: vec![
                Measured {
                    id: "create".into(),
                    about: String::new(),
                    medians: vec![
                        Some(Duration::from_millis(2)),
                        Some(Duration::from_micros(20)),
                        Some(Duration::from_millis(3)),
                    ],
                },
                Measured {
                    id: "echo_16b".into(),
                    about: String::new(),
                    medians: vec![
                        Some(Duration::from_nanos(270)),
                        Some(Duration::from_nanos(530)),
                        None,
                    ],
                },
            ],
        };
        write_svg(&path, &results).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        assert!(svg.contains("echo_16b") && svg.contains("wasmer"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
