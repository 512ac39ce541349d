//! `bench-results.svg`: time to Ready against the critical path, one point per run, with the
//! lines y = x (no overhead) and y = 1.10 x (the target). plotters' SVG backend writes text as
//! SVG `<text>` and sizes it without font files, so it draws on a bare machine.

use std::path::Path;

use plotters::prelude::*;

use super::{BenchError, ReadyRun, TARGET_RATIO_TO_CRITICAL_PATH};

/// Draws the runs that reached Ready into `path`.
pub fn time_to_ready_svg(runs: &[ReadyRun], path: &Path) -> Result<(), BenchError> {
    let points: Vec<(f64, f64, String)> = runs
        .iter()
        .filter_map(|r| {
            let t = r.time_to_ready_seconds?;
            let c = r.critical_path.as_ref()?.seconds;
            Some((c, t, format!("{}n@{}s", r.nodes, r.boot_delay_seconds)))
        })
        .collect();
    let max = points
        .iter()
        .flat_map(|(c, t, _)| [*c, *t])
        .fold(10.0_f64, f64::max)
        * 1.1;
    let plot_err = |e: &dyn std::fmt::Display| BenchError::Plot(e.to_string());
    let root = SVGBackend::new(path, (900, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "gluster-operator: time to Ready vs critical path",
            ("sans-serif", 22),
        )
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max, 0.0..max)
        .map_err(|e| plot_err(&e))?;
    chart
        .configure_mesh()
        .x_desc("critical path (s): slowest node ACTIVE + attach + brick script + gluster ops")
        .y_desc("time to Ready (s)")
        .draw()
        .map_err(|e| plot_err(&e))?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (max, max)], &BLACK))
        .map_err(|e| plot_err(&e))?
        .label("y = x (no operator overhead)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    let target = TARGET_RATIO_TO_CRITICAL_PATH;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (max / target, max)],
            RED.stroke_width(2),
        ))
        .map_err(|e| plot_err(&e))?
        .label(format!("target: {target:.2} × critical path"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .draw_series(
            points
                .iter()
                .map(|(c, t, _)| Circle::new((*c, *t), 5, BLUE.filled())),
        )
        .map_err(|e| plot_err(&e))?
        .label("one run (nodes @ boot delay)")
        .legend(|(x, y)| Circle::new((x + 10, y), 5, BLUE.filled()));
    chart
        .draw_series(
            points
                .iter()
                .map(|(c, t, label)| Text::new(label.clone(), (*c, *t), ("sans-serif", 13))),
        )
        .map_err(|e| plot_err(&e))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(&e))?;
    root.present().map_err(|e| plot_err(&e))?;
    Ok(())
}
