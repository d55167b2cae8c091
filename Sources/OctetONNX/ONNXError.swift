import OctetIR

/// Why an ONNX file could not be imported or exported.
public enum ONNXError: Error, Hashable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case notAModel(reason: String)
    case noGraph
    case unsupportedOpset(domain: String, version: Int, supported: ClosedRange<Int>)
    case unsupportedOperators([UnsupportedNode])
    /// Recurrent and attention blocks: refused by name before any work.
    case outOfScope([UnsupportedNode])
    case badAttribute(node: String, attribute: String, reason: String)
    case badTensor(name: String, reason: String)
    case externalData(tensor: String, reason: String)
    case invalidGraph(GraphError)

    /// One node whose operator Octet does not implement.
    public struct UnsupportedNode: Hashable, Sendable {
        public var node: String
        public var opType: String
        public var domain: String
    }

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read ONNX file \(path): \(reason)"
        case .notAModel(let reason): "not a valid ONNX model (truncated or corrupt?): \(reason)"
        case .noGraph: "ONNX model has no graph (empty, truncated or not an ONNX file)"
        case .unsupportedOpset(let domain, let v, let supported):
            "ONNX opset \(v) of domain '\(domain.isEmpty ? "ai.onnx" : domain)' is not supported (supported: \(supported.lowerBound)...\(supported.upperBound))"
        case .unsupportedOperators(let nodes):
            "unsupported operator(s): "
                + nodes.map { "\($0.domain.isEmpty ? "" : $0.domain + ".")\($0.opType) (node '\($0.node)')" }.joined(separator: ", ")
                + ". Supported: " + Op.supportedONNXTypes.joined(separator: ", ")
        case .outOfScope(let nodes):
            "out of scope: " + nodes.map { "\($0.opType) (node '\($0.node)')" }.joined(separator: ", ")
                + ": recurrent and attention blocks are not supported (Octet runs convolutional vision models)"
        case .badAttribute(let node, let attribute, let reason): "node '\(node)': attribute '\(attribute)' \(reason)"
        case .badTensor(let name, let reason): "tensor '\(name)': \(reason)"
        case .externalData(let tensor, let reason): "tensor '\(tensor)': external data \(reason)"
        case .invalidGraph(let e): "invalid ONNX graph: \(e)"
        }
    }
}
