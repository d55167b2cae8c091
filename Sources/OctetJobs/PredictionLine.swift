import Foundation

/// One line of an inference job's output (JSON lines, in input order): the sample's index in
/// the job, its file, its label if the dataset has labels, and the top-5 classes with softmax
/// scores.
public struct PredictionLine: OutputLine, Codable, Sendable, Hashable {
    public var index: Int
    public var file: String
    public var label: Int?
    public var top1: Int
    public var classes: [Int]
    public var scores: [Float]

    /// The line of a worker's prediction; nil when it has no class.
    init?(_ p: Octet_Jobs_Prediction) {
        guard let first = p.classes.first else { return nil }
        index = Int(p.index)
        file = p.name
        label = p.hasLabel ? Int(p.label) : nil
        top1 = Int(first)
        classes = p.classes.map(Int.init)
        scores = p.scores
    }
}
