import OctetCore

/// A graph that breaks an invariant or cannot be evaluated with the given shapes.
public enum GraphError: Error, Hashable, Sendable, CustomStringConvertible {
    case undefinedValue(node: String, value: String)
    case valueDefinedTwice(String)
    case missingOutput(String)
    case badArity(node: String, op: String, inputs: Int, outputs: Int)
    case notConstant(node: String, input: String)
    case shapeMismatch(node: String, detail: String)
    case unsupported(node: String, detail: String)
    case inputShape(input: String, expected: String, got: Shape)
    case missingInput(String)
    case afterPass(pass: String, underlying: String)

    public var description: String {
        switch self {
        case .undefinedValue(let node, let value): "node '\(node)' reads '\(value)', which nothing defines"
        case .valueDefinedTwice(let v): "value '\(v)' is defined more than once"
        case .missingOutput(let v): "graph output '\(v)' is never produced"
        case .badArity(let node, let op, let i, let o):
            "node '\(node)' (\(op)) has \(i) inputs and \(o) outputs, which \(op) does not allow"
        case .notConstant(let node, let input):
            "node '\(node)' needs input '\(input)' to be a constant initializer"
        case .shapeMismatch(let node, let detail): "node '\(node)': \(detail)"
        case .unsupported(let node, let detail): "node '\(node)': unsupported \(detail)"
        case .inputShape(let input, let expected, let got):
            "input '\(input)' must have shape \(expected), got \(got)"
        case .missingInput(let name): "no data given for model input '\(name)'"
        case .afterPass(let pass, let underlying): "graph invalid after pass \(pass): \(underlying)"
        }
    }
}
