// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Octet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "octet", targets: ["octet"]),
        .executable(name: "octet-bench", targets: ["octet-bench"]),
        .library(name: "Octet", targets: ["OctetPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C: SIMD microkernels only, each ISA variant beside its scalar twin.
        .target(name: "CKernels", path: "Sources/CKernels", sources: ["src"],
                cSettings: [.headerSearchPath("include")]),
        // System libraries from Debian -dev packages.
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSodium", path: "Sources/CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),

        .target(name: "OctetCore", dependencies: ["CSodium"]),
        .target(name: "OctetIR", dependencies: ["OctetCore"]),
        .target(name: "OctetONNX", dependencies: [
            "OctetIR", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Proto"]),
        .target(name: "OctetPasses", dependencies: ["OctetIR"]),
        .target(name: "OctetKernels", dependencies: ["OctetCore", "CKernels"]),
        .target(name: "OctetRuntime", dependencies: ["OctetIR", "OctetPasses", "OctetKernels"]),
        .target(name: "OctetData", dependencies: ["OctetCore", "OctetKernels", "CTurboJPEG", "CPNG"]),
        .target(name: "OctetCalibration", dependencies: ["OctetRuntime"]),
        .target(name: "OctetZoo", dependencies: ["OctetIR"]),
        .target(name: "OctetPipeline", dependencies: [
            "OctetONNX", "OctetPasses", "OctetRuntime", "OctetData", "OctetZoo", "OctetCalibration",
        ]),
        // The cluster: coordinator, workers, wire protocol, job store, monitoring. It carries jobs
        // and tasks with opaque payloads and imports nothing of the ML stack (OctetCore only for
        // content hashes); the job kinds are handlers in OctetJobs.
        .target(name: "OctetCluster", dependencies: [
            "OctetCore", "CZMQ", "CLZ4", "CSodium",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ], exclude: ["Wire"]),
        // The job kinds the cluster runs: calibration and inference handlers (coordinator side),
        // their task runner (worker side) and their output writers (client side).
        .target(name: "OctetJobs", dependencies: [
            "OctetPipeline", "OctetCluster", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Wire"]),
        .executableTarget(name: "octet", dependencies: [
            "OctetPipeline", "OctetCluster", "OctetJobs", "OctetIR", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "octet-bench", dependencies: [
            "OctetPipeline", "OctetData", "OctetKernels", "OctetCluster", "OctetJobs", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "OctetTestSupport", dependencies: ["OctetPipeline"], path: "Tests/OctetTestSupport"),
        .testTarget(name: "OctetIRTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetONNXTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetPassesTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetKernelsTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetRuntimeTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetDataTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetCalibrationTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetClusterTests", dependencies: ["OctetTestSupport", "OctetCluster", "OctetJobs", "octet",
                                                             .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OctetExamples", dependencies: ["OctetPipeline"], path: "docs/examples"),
        .testTarget(name: "OctetCLITests", dependencies: ["OctetTestSupport", "octet"]),
    ]
)
