/// Why a dataset, image or tensor file could not be read.
public enum DataError: Error, Hashable, Sendable, CustomStringConvertible {
    case missingFile(String)
    case notADirectory(String)
    case emptyDataset(String)
    case corruptImage(path: String, reason: String)
    case unsupportedImage(path: String)
    case badLabels(path: String, line: Int, reason: String)
    case unlabeledImage(file: String, labels: String)
    case badRecipe(String)
    case badNPY(path: String, reason: String)
    case badShard(index: Int, count: Int)
    /// A task read a shipped sample it does not list (so its worker may not have fetched it).
    case unlisted(name: String, index: Int)

    /// Whether the error, thrown while reading one sample, is about that sample's own file (missing,
    /// not an image, corrupt), so that batch inference can report it on that sample's output line
    /// and go on with the others. Errors about a whole dataset (its folder, labels, recipe) or about
    /// the cluster's bookkeeping (`unlisted`) are not.
    public var isAboutOneSample: Bool {
        switch self {
        case .missingFile, .corruptImage, .unsupportedImage: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .missingFile(let p): "file not found: \(p)"
        case .notADirectory(let p): "not a directory: \(p)"
        case .emptyDataset(let p): "no images (.jpg, .jpeg, .png) or .npy files in \(p)"
        case .corruptImage(let p, let r): "cannot decode image \(p): \(r)"
        case .unsupportedImage(let p): "unsupported image format: \(p) (JPEG and PNG are supported)"
        case .badLabels(let p, let line, let r): "labels file \(p), line \(line): \(r)"
        case .unlabeledImage(let f, let labels): "image \(f) has no entry in \(labels)"
        case .badRecipe(let r): "preprocessing recipe: \(r)"
        case .badNPY(let p, let r): "cannot read .npy file \(p): \(r)"
        case .badShard(let i, let n): "shard \(i) of \(n) does not exist (need 0 <= index < count)"
        case .unlisted(let name, let i): "sample \(i) (\(name)) is not among the shipped images its task lists"
        }
    }
}
