import Foundation

/// A line of an inference job's output (`PredictionLine`, `TensorShard.Line`, `UnreadableLine`):
/// JSON with sorted keys, so the same values always give the same bytes and an unreadable
/// sample's line, and only it, begins with `{"error":`.
public protocol OutputLine: Encodable {}

extension OutputLine {
    /// The line as JSON with sorted keys (no newline).
    public func json() -> String {
        (try? String(decoding: outputLineEncoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}

private let outputLineEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return e
}()
