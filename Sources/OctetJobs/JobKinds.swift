import OctetCluster
import OctetKernels

/// Every job kind Octet runs, registered with a coordinator, a worker or a client in one place.
public enum JobKinds {
    /// The coordinator's handlers: calibration (artifacts under `directory`, the FP32 path `isa`
    /// pinned for jobs that name none) and inference; `threads` for their own passes.
    public static func handlers(blobs: BlobStore, store: JobStore, directory: String, threads: Int, isa: ISA) -> JobHandlers {
        JobHandlers([
            CalibrationJobHandler(blobs: blobs, store: store, directory: directory, threads: threads, defaultISA: isa),
            InferenceJobHandler(blobs: blobs, threads: threads),
        ])
    }

    /// A worker's runners: one executor for both kinds (they share its compiled models), with
    /// `isa` for inference (calibration tasks run on their job's pinned path).
    public static func runners(cache: BlobStore, threads: Int, isa: ISA) -> TaskRunners {
        TaskRunners([TaskExecutor(cache: cache, threads: threads, isa: isa)])
    }

    /// The Hello of a worker running `isa` with `threads` on this machine.
    public static func hello(id: String, threads: Int, isa: ISA, credit: Int = 2) -> Octet_Wire_Hello {
        Worker.hello(id: id, threads: threads, isa: isa.rawValue, isas: ISA.supported.map(\.rawValue), credit: credit)
    }
}
