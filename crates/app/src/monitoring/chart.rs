//! Trend charts (D3): server-rendered SVG. Filled in by the chart work.
