import ArgumentParser
import OctetPipeline

/// Where the kernels run: threads and ISA path.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads (default: all cores).")
    var threads: Int = System.coreCount

    @Option(help: "Kernel path: avx512vnni, avx512, avx2 or scalar (default: best available, or $OCTET_ISA).")
    var isa: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func planOptions(fuse: Bool = true) throws -> PlanOptions {
        let chosen = try isa.map { try ISA.named($0) } ?? ISA.fromEnvironment(System.environment)
        return PlanOptions(isa: chosen, threads: threads, fuse: fuse)
    }
}

/// Which images to read and how to preprocess them.
struct DataOptions: ParsableArguments {
    @Option(help: "Folder of JPEG/PNG images, or a .npy file of preprocessed samples [N,C,H,W].")
    var data: String

    @Option(help: "CSV of file,label (class index) for accuracy.")
    var labels: String?

    @Option(help: "Use only the first N images (in file-name order).")
    var limit: Int?

    @Option(help: "Preprocessing: imagenet, efficientnet-lite, or a JSON recipe file (default: MODEL.preprocess.json beside the model, else imagenet).")
    var preprocess: String?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func dataset(model: String) throws -> any Dataset {
        let recipe = try PreprocessRecipe.resolve(preprocess, modelPath: model)
        return try openDataset(path: data, labels: labels, recipe: recipe, limit: limit)
    }
}
