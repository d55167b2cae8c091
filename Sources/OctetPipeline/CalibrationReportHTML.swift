import Foundation
import OctetCore

/// The calibration report as one self-contained HTML page (`report.html`): the Markdown report's
/// text and tables, its SVG plots inlined, and a plot of the measured SQNR of every quantized
/// tensor in graph order (where the error accumulates through the network). No external asset, so
/// it opens anywhere a browser does, offline.
public enum CalibrationReportHTML {
    /// - Parameters:
    ///   - markdown: `CalibrationReport.markdown`'s text (its images are SVG files in `plotDirectory`).
    ///   - cumulative: (tensor, measured SQNR dB) in graph order.
    public static func render(markdown: String, cumulative: [(String, Double)], plotDirectory: String) -> String {
        var body = ""
        var list = false, table = false
        func close() {
            if list { body += "</ul>\n"; list = false }
            if table { body += "</table>\n"; table = false }
        }
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("|") {
                if list { body += "</ul>\n"; list = false }
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.allSatisfy({ $0.allSatisfy { $0 == "-" } && !$0.isEmpty }) { continue }   // the separator row
                let tag = table ? "td" : "th"
                if !table { body += "<table>\n"; table = true }
                body += "<tr>" + cells.map { "<\(tag)>\(inline($0))</\(tag)>" }.joined() + "</tr>\n"
                continue
            }
            if table { body += "</table>\n"; table = false }
            if line.hasPrefix("- ") {
                if !list { body += "<ul>\n"; list = true }
                body += "<li>\(inline(String(line.dropFirst(2))))</li>\n"
                continue
            }
            close()
            if line.hasPrefix("### ") { body += "<h3>\(inline(String(line.dropFirst(4))))</h3>\n" }
            else if line.hasPrefix("## ") { body += "<h2>\(inline(String(line.dropFirst(3))))</h2>\n" }
            else if line.hasPrefix("# ") { body += "<h1>\(inline(String(line.dropFirst(2))))</h1>\n" }
            else if line.hasPrefix("!["), let open = line.firstIndex(of: "("), let end = line.lastIndex(of: ")") {
                let file = String(line[line.index(after: open)..<end])
                let path = (plotDirectory as NSString).appendingPathComponent((file as NSString).lastPathComponent)
                if let svg = try? String(contentsOfFile: path, encoding: .utf8) { body += "<figure>\(svg)</figure>\n" }
            } else if !line.isEmpty { body += "<p>\(inline(line))</p>\n" }
        }
        close()
        if !cumulative.isEmpty {
            body += "<h2>Measured SQNR through the network</h2>\n<p>Each quantized tensor's INT8 value against FP32, in graph order: where the error grows.</p>\n"
            body += "<figure>\(cumulativePlot(cumulative))</figure>\n"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Octet calibration report</title>
        <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
        th { background: #f0f0f0; } code { background: #f4f4f4; padding: 0 3px; } figure { margin: 1em 0; } svg { max-width: 100%; height: auto; }
        </style></head>
        <body>
        \(body)</body></html>

        """
    }

    /// Line plot of SQNR (dB) per tensor in graph order, with the tensors' names as tooltips.
    static func cumulativePlot(_ points: [(String, Double)]) -> String {
        let w = 720.0, h = 240.0, pad = 30.0
        let values = points.map { min($0.1, 80) }
        let top = max(values.max() ?? 1, 1), n = Double(max(points.count - 1, 1))
        func x(_ i: Int) -> Double { pad + Double(i) / n * (w - 2 * pad) }
        func y(_ v: Double) -> Double { h - pad - max(v, 0) / top * (h - 2 * pad) }
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(w))' height='\(Int(h))' viewBox='0 0 \(Int(w)) \(Int(h))' role='img' aria-label='measured SQNR per tensor'>"
        s += "<line x1='\(pad)' y1='\(h - pad)' x2='\(w - pad)' y2='\(h - pad)' stroke='#888'/><line x1='\(pad)' y1='\(pad)' x2='\(pad)' y2='\(h - pad)' stroke='#888'/>"
        s += "<text x='4' y='\(pad - 8)' font-size='11'>\(String(format: "%.0f", top)) dB</text><text x='4' y='\(h - pad + 4)' font-size='11'>0</text>"
        s += "<path fill='none' stroke='#3182bd' d='" + values.enumerated().map { i, v in (i == 0 ? "M" : "L") + String(format: "%.1f,%.1f", x(i), y(v)) }.joined(separator: " ") + "'/>"
        for (i, (name, v)) in points.enumerated() {
            s += String(format: "<circle cx='%.1f' cy='%.1f' r='2.5' fill='#3182bd'><title>", x(i), y(min(v, 80))) + escape(name) + String(format: ": %.1f dB</title></circle>", v)
        }
        return s + "</svg>"
    }

    /// Markdown's inline `code` and **bold**, HTML-escaped.
    static func inline(_ text: String) -> String {
        var out = "", code = false, rest = Substring(text)
        while let c = rest.first {
            if c == "`" { out += code ? "</code>" : "<code>"; code.toggle(); rest = rest.dropFirst(); continue }
            if !code, rest.hasPrefix("**"), let end = rest.dropFirst(2).range(of: "**") {
                out += "<strong>" + escape(String(rest.dropFirst(2)[..<end.lowerBound])) + "</strong>"
                rest = rest[end.upperBound...]
                continue
            }
            out += escape(String(c))
            rest = rest.dropFirst()
        }
        return code ? out + "</code>" : out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
