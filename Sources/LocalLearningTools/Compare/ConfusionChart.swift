import Foundation
import LocalLearning

extension SVGChart {
    /// A confusion matrix as a picture: cell (true t, predicted p) shaded by the fraction of class t's
    /// samples predicted as p (white 0 → dark blue 1), the diagonal outlined; class indices on the axes
    /// when there are at most 20 classes.
    public static func confusion(title: String, matrix: [[Int]], size: Int = 360) -> String {
        let n = matrix.count
        guard n > 0 else { return "" }
        let (left, top) = (56.0, 40.0)
        let cell = Double(size) / Double(n)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left) + size + 24)\" height=\"\(Int(top) + size + 44)\" "
            + "role=\"img\" aria-label=\"\(escape(title))\">\n"
        svg += "<text x=\"\(Int(left))\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        for (t, row) in matrix.enumerated() {
            let total = max(row.reduce(0, +), 1)
            for (p, count) in row.enumerated() {
                let f = Double(count) / Double(total)
                // Interpolate white (255, 255, 255) → #08306b (8, 48, 107).
                let (r, g, b) = (255 - f * 247, 255 - f * 207, 255 - f * 148)
                let stroke = t == p ? " stroke=\"#d62728\" stroke-width=\"1\"" : ""
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\"%@>"
                              + "<title>true %d, predicted %d: %d (%.1f%%)</title></rect>\n",
                              left + Double(p) * cell, top + Double(t) * cell, cell, cell, Int(r), Int(g), Int(b), stroke,
                              t, p, count, f * 100)
            }
        }
        if n <= 20 {
            for i in 0..<n {
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%d</text>\n",
                              left + (Double(i) + 0.5) * cell, top + Double(size) + 12, i)
                svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%d</text>\n",
                              left - 4, top + (Double(i) + 0.5) * cell + 3, i)
            }
        }
        svg += "<text x=\"\(Int(left) + size / 2)\" y=\"\(Int(top) + size + 32)\" font-size=\"12\" text-anchor=\"middle\">predicted class</text>\n"
        svg += "<text x=\"14\" y=\"\(Int(top) + size / 2)\" font-size=\"12\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 14 \(Int(top) + size / 2))\">true class</text>\n"
        return svg + "</svg>\n"
    }
}
