// Package plotfile writes a gonum plot as the two files ebb's reports
// carry: a PNG to look at, and an SVG to put inline in the HTML report.
// `ebb loadtest` and `ebb simulate` both draw with it.
package plotfile
