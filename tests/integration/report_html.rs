//! Integration tests: report_html.
