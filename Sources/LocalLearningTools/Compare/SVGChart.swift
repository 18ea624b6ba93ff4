import Foundation
import LocalLearning

/// Small self-contained SVG charts (no scripts, no external resources) for the comparison report.
public enum SVGChart {
    /// A colour per series, distinguishable and legible on white.
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                          "#7f7f7f", "#bcbd22", "#393b79", "#e7969c", "#637939", "#ad494a"]

    /// Series beyond the palette repeat its colours dashed, so no two lines look alike.
    static func dash(_ index: Int) -> String { index >= palette.count ? " stroke-dasharray=\"7 4\"" : "" }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func format(_ v: Double) -> String { String(format: "%.1f", v) }

    /// "Nice" tick values covering [low, high].
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        let span = max(high - low, 1e-9)
        let raw = span / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var v = (low / step).rounded(.down) * step
        while v <= high + step * 1e-6 {
            if v >= low - step * 1e-6 { values.append(v) }
            v += step
        }
        return values
    }

    /// Lines over x = 1…n, one per series (nil values leave gaps), with axes, ticks and a legend; a
    /// series with `bands` (its value ± a half-width per point, e.g. one standard deviation over seeds)
    /// gets a translucent band of its colour around its line.
    public static func lines(title: String, series: [(name: String, values: [Double?])], xLabel: String, yLabel: String,
                             bands: [[Double]?] = [], width: Int = 720, height: Int = 360) -> String {
        let (left, right, top, bottom) = (64.0, 170.0, 36.0, 48.0)
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        func band(_ index: Int) -> [(Double, Double)]? {
            guard index < bands.count, let widths = bands[index] else { return nil }
            let values = series[index].values
            guard widths.count == values.count, values.allSatisfy({ $0 != nil }) else { return nil }
            return zip(values, widths).map { ($0! - $1, $0! + $1) }
        }
        let all = series.flatMap { $0.values.compactMap { $0 } } + series.indices.flatMap { band($0)?.flatMap { [$0.0, $0.1] } ?? [] }
        let n = max(series.map(\.values.count).max() ?? 1, 1)
        var low = all.min() ?? 0, high = all.max() ?? 1
        if high - low < 1e-9 { low -= 0.5; high += 0.5 }
        let pad = (high - low) * 0.05
        low -= pad; high += pad
        func x(_ i: Int) -> Double { left + (n == 1 ? plotW / 2 : plotW * Double(i) / Double(n - 1)) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - low) / (high - low)) }
        var svg = header(width, height, title)
        svg += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotW))\" height=\"\(format(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"
        for t in ticks(low, high) {
            svg += "<line x1=\"\(format(left))\" x2=\"\(format(left + plotW))\" y1=\"\(format(y(t)))\" y2=\"\(format(y(t)))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(format(left - 6))\" y=\"\(format(y(t) + 4))\" text-anchor=\"end\" font-size=\"12\">\(String(format: "%g", (t * 1000).rounded() / 1000))</text>\n"
        }
        for t in ticks(1, Double(n), count: min(n, 10)) where t == t.rounded() {
            let i = Int(t) - 1
            svg += "<text x=\"\(format(x(i)))\" y=\"\(format(top + plotH + 18))\" text-anchor=\"middle\" font-size=\"12\">\(Int(t))</text>\n"
        }
        svg += "<text x=\"\(format(left + plotW / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\" font-size=\"13\">\(escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(16 \(format(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">\(escape(yLabel))</text>\n"
        for (index, s) in series.enumerated() {
            let colour = palette[index % palette.count]
            if let band = band(index), band.count > 1 {
                let upper = band.enumerated().map { "\(format(x($0.offset))),\(format(y($0.element.1)))" }
                let lower = band.enumerated().reversed().map { "\(format(x($0.offset))),\(format(y($0.element.0)))" }
                svg += "<polygon fill=\"\(colour)\" fill-opacity=\"0.18\" stroke=\"none\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
            }
            var runs: [[String]] = [[]]
            for (i, v) in s.values.enumerated() {
                if let v { runs[runs.count - 1].append("\(format(x(i))),\(format(y(v)))") } else { runs.append([]) }
            }
            for run in runs where !run.isEmpty {
                svg += run.count == 1
                    ? "<circle cx=\"\(run[0].split(separator: ",")[0])\" cy=\"\(run[0].split(separator: ",")[1])\" r=\"3\" fill=\"\(colour)\"/>\n"
                    : "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash(index)) points=\"\(run.joined(separator: " "))\"/>\n"
            }
            let ly = top + 14 + Double(index) * 18
            svg += "<line x1=\"\(format(left + plotW + 12))\" x2=\"\(format(left + plotW + 32))\" y1=\"\(format(ly - 4))\" y2=\"\(format(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"3\"\(dash(index))/>"
            svg += "<text x=\"\(format(left + plotW + 38))\" y=\"\(format(ly))\" font-size=\"12\">\(escape(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Horizontal bars, one per item, labelled with their value.
    public static func bars(title: String, items: [(name: String, value: Double)], unit: String, width: Int = 720,
                            label: ((Double) -> String)? = nil) -> String {
        let rowHeight = 24.0, (left, right, top) = (110.0, 110.0, 36.0)
        let height = Int(top + rowHeight * Double(max(items.count, 1)) + 16)
        let plotW = Double(width) - left - right
        let high = max(items.map(\.value).max() ?? 1, 1e-12)
        var svg = header(width, height, title)
        for (index, item) in items.enumerated() {
            let y = top + Double(index) * rowHeight
            let w = plotW * max(item.value, 0) / high
            svg += "<text x=\"\(format(left - 8))\" y=\"\(format(y + 16))\" text-anchor=\"end\" font-size=\"12\">\(escape(item.name))</text>"
            svg += "<rect x=\"\(format(left))\" y=\"\(format(y + 4))\" width=\"\(format(w))\" height=\"\(format(rowHeight - 8))\" fill=\"\(palette[index % palette.count])\"/>"
            svg += "<text x=\"\(format(left + w + 6))\" y=\"\(format(y + 16))\" font-size=\"12\">\(escape(label?(item.value) ?? (String(format: "%.1f", item.value) + " " + unit)))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func header(_ width: Int, _ height: Int, _ title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"sans-serif\" role=\"img\" aria-label=\"\(escape(title))\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            + "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
    }
}
