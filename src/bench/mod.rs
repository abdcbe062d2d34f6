//! `fcctl bench`: load generator, HDR statistics and the HTML report.
