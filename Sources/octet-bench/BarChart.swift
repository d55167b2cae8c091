import Foundation

/// A horizontal grouped bar chart as SVG: one group per row label, one bar per series.
struct BarChart {
    var title: String
    var unit: String
    var series: [String]
    var rows: [(label: String, values: [Double?])]

    func svg() -> String {
        let colors = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5"]
        let barH = 12.0, gap = 8.0, left = 300.0, width = 520.0
        let groupH = barH * Double(series.count) + gap
        let height = 60 + groupH * Double(rows.count) + 30
        let maxValue = rows.flatMap { $0.values.compactMap { $0 } }.max() ?? 1
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 90))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>"]
        for (i, s) in series.enumerated() {
            let x = left + Double(i) * 160
            out.append("<rect x=\"\(x)\" y=\"30\" width=\"12\" height=\"12\" fill=\"\(colors[i % colors.count])\"/>")
            out.append("<text x=\"\(x + 16)\" y=\"40\">\(esc(s))</text>")
        }
        for (r, row) in rows.enumerated() {
            let y0 = 55 + Double(r) * groupH
            out.append("<text x=\"\(left - 6)\" y=\"\(y0 + groupH / 2)\" text-anchor=\"end\">\(esc(row.label))</text>")
            for (i, v) in row.values.enumerated() {
                let y = y0 + Double(i) * barH
                guard let v else {
                    out.append("<text x=\"\(left + 4)\" y=\"\(y + barH - 2)\" fill=\"#888\">n/a</text>")
                    continue
                }
                let w = max(1, v / maxValue * width)
                out.append("<rect x=\"\(left)\" y=\"\(y)\" width=\"\(String(format: "%.1f", w))\" height=\"\(barH - 1)\" fill=\"\(colors[i % colors.count])\"/>")
                out.append("<text x=\"\(String(format: "%.1f", left + w + 4))\" y=\"\(y + barH - 2)\">\(String(format: "%.1f", v))</text>")
            }
        }
        out.append("<text x=\"\(left)\" y=\"\(Int(height - 8))\" fill=\"#555\">\(esc(unit))</text>")
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
