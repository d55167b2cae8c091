import Foundation

/// A labels CSV: `file,label[,...]` per line, an optional header whose second field is not
/// a number, labels being class indices.
public struct LabelsFile: Sendable {
    public let path: String
    public let labels: [String: Int]

    public init(path: String) throws(DataError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw .missingFile(path) }
        let text = String(decoding: data, as: UTF8.self)
        var map: [String: Int] = [:]
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2 else { throw .badLabels(path: path, line: i + 1, reason: "expected 'file,label'") }
            guard let label = Int(fields[1]) else {
                if i == 0 { continue }  // header
                throw .badLabels(path: path, line: i + 1, reason: "label '\(fields[1])' is not an integer")
            }
            map[fields[0]] = label
        }
        self.path = path
        labels = map
    }
}
