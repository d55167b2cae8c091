/// Images given as an explicit list of files in a fixed order (for example images shipped to a
/// worker and cached under their content hashes), each with its original name and label.
public struct ImageListDataset: Dataset {
    public let items: [DatasetItem]
    public let recipe: PreprocessRecipe

    public init(items: [DatasetItem], recipe: PreprocessRecipe) throws(DataError) {
        guard !items.isEmpty else { throw .emptyDataset("image list") }
        self.items = items
        self.recipe = recipe
    }

    public var count: Int { items.count }
    public var sampleShape: [Int]? { nil }
    public func name(_ index: Int) -> String { items[index].name }
    public func file(_ index: Int) -> String? { items[index].path }
    public func label(_ index: Int) -> Int? { items[index].label }

    public func load(_ index: Int) throws(DataError) -> [Float] {
        recipe.apply(try recipe.decode(contentsOf: items[index].path))
    }

    public func loadShaped(_ index: Int) throws(DataError) -> ShapedSample {
        let image = recipe.resizedCrop(try recipe.decode(contentsOf: items[index].path))
        return ShapedSample(dims: [3, image.height, image.width], values: recipe.normalize(image))
    }
}
