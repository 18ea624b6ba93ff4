import Foundation
import LocalLearning

/// A self-contained HTML page (inline CSS and SVG, no scripts, no network) comparing rules.
public enum HTMLReport {
    public static func render(title: String, subtitle: String, rows: [ComparisonRow]) -> String {
        let done = rows.filter { $0.status == .done }
        var body = "<h1>\(SVGChart.escape(title))</h1>\n<p>\(SVGChart.escape(subtitle))</p>\n"
        body += table(rows)
        let seeded = done.contains { $0.testAccuracyDeviations != nil }
        body += SVGChart.lines(title: "Test accuracy per epoch" + (seeded ? " (mean over seeds, band: ± one standard deviation)" : ""),
                               series: done.map { ($0.rule, $0.testAccuracies.map { Optional($0 * 100) }) },
                               xLabel: "epoch", yLabel: "test accuracy (%)", bands: done.map { $0.testAccuracyDeviations?.map { $0 * 100 } })
        body += SVGChart.bars(title: "Engine peak training memory (activations + parameters + gradients + optimizer + rule state)",
                              items: done.compactMap { r in r.memory.map { (r.rule, Double($0.totalBytes) / 1_048_576) } }, unit: "MiB")
        body += SVGChart.bars(title: "Process peak RSS", items: done.compactMap { r in r.peakResidentBytes.map { (r.rule, Double($0) / 1_048_576) } },
                              unit: "MiB")
        body += SVGChart.bars(title: "Training time (all epochs, evaluation excluded)", items: done.compactMap { r in r.trainSeconds.map { (r.rule, $0) } },
                              unit: "s")
        body += SVGChart.bars(title: "Learning-signal MACs per sample", items: done.compactMap { r in r.macs.map { (r.rule, Double($0.signal)) } },
                              unit: "", label: { ComparisonTable.count(Int($0)) })
        for row in done {
            if let matrix = row.confusion { body += SVGChart.confusion(title: "\(row.rule): test confusion matrix (final weights)", matrix: matrix) }
        }
        for row in done where !row.units.isEmpty {
            body += SVGChart.lines(title: "\(row.rule): each unit's own head, training accuracy per epoch",
                                   series: row.units.map { ($0.unit, $0.accuracy.map { $0.map { $0 * 100 } }) },
                                   xLabel: "epoch", yLabel: "head accuracy (%)")
        }
        for row in done where !row.updateAngles.isEmpty {
            body += SVGChart.lines(title: "\(row.rule): angle between update and backprop gradient, per layer",
                                   series: row.updateAngles.map { (String($0.layer.prefix { $0 != "(" }), $0.degrees) },
                                   xLabel: "epoch", yLabel: "angle (degrees)")
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(SVGChart.escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        table { border-collapse: collapse; margin: 16px 0; font-size: 13px; }
        th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
        th:first-child, td:first-child, td.note { text-align: left; }
        svg { display: block; margin: 18px 0; }
        </style></head><body>
        \(body)</body></html>

        """
    }

    static func table(_ rows: [ComparisonRow]) -> String {
        var html = "<table>\n<tr>" + ComparisonTable.headers.map { "<th>\(SVGChart.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            let cells = ComparisonTable.cells(row)
            if row.status == .done {
                html += "<tr>" + cells.map { "<td>\(SVGChart.escape($0))</td>" }.joined() + "</tr>\n"
            } else {
                html += "<tr><td>\(SVGChart.escape(cells[0]))</td><td>\(SVGChart.escape(cells[1]))</td>"
                    + "<td class=\"note\" colspan=\"\(ComparisonTable.headers.count - 2)\">\(SVGChart.escape(cells[2]))</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }
}
