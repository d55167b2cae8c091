import OctetData

/// A task's view of a job's shipped samples: only those whose blobs the task lists can be read.
/// A worker fetches exactly the blobs a task lists, so a sample outside them may or may not be in
/// its cache (another task may have fetched it); reading one is an error naming it on every
/// worker, so a task that lists too few images fails every run instead of only on a worker that
/// joined late.
struct ListedSamples: Dataset {
    let base: any Dataset
    /// The cache files of the blobs the task lists (a shipped sample is read from its blob's file).
    let listed: Set<String>

    var count: Int { base.count }
    var sampleShape: [Int]? { base.sampleShape }
    func name(_ index: Int) -> String { base.name(index) }
    func label(_ index: Int) -> Int? { base.label(index) }
    func file(_ index: Int) -> String? { base.file(index) }

    func load(_ index: Int) throws(DataError) -> [Float] {
        try check(index)
        return try base.load(index)
    }

    func loadShaped(_ index: Int) throws(DataError) -> ShapedSample {
        try check(index)
        return try base.loadShaped(index)
    }

    func loadInputs(_ index: Int) throws(DataError) -> [String: ShapedSample] {
        try check(index)
        return try base.loadInputs(index)
    }

    func check(_ index: Int) throws(DataError) {
        guard let file = base.file(index), listed.contains(file) else { throw .unlisted(name: base.name(index), index: index) }
    }
}
