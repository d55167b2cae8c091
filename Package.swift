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

        .target(name: "OctetCore"),
        .target(name: "OctetIR", dependencies: ["OctetCore"]),
        .target(name: "OctetONNX", dependencies: [
            "OctetIR", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Proto"]),
        .target(name: "OctetPasses", dependencies: ["OctetIR"]),
        .target(name: "OctetKernels", dependencies: ["OctetCore", "CKernels"]),
        .target(name: "OctetRuntime", dependencies: ["OctetIR", "OctetKernels"]),
        .target(name: "OctetData", dependencies: ["OctetCore", "CTurboJPEG", "CPNG"]),
        .target(name: "OctetCalibration", dependencies: ["OctetRuntime"]),
        .target(name: "OctetZoo", dependencies: ["OctetIR"]),
        .target(name: "OctetPipeline", dependencies: [
            "OctetONNX", "OctetPasses", "OctetRuntime", "OctetData", "OctetZoo", "OctetCalibration",
        ]),
        .executableTarget(name: "octet", dependencies: [
            "OctetPipeline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "octet-bench", dependencies: [
            "OctetPipeline", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "OctetTestSupport", dependencies: ["OctetPipeline"], path: "Tests/OctetTestSupport"),
        .testTarget(name: "OctetIRTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetONNXTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetPassesTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetKernelsTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetRuntimeTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetDataTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetCalibrationTests", dependencies: ["OctetTestSupport"]),
        .testTarget(name: "OctetExamples", dependencies: ["OctetPipeline"], path: "docs/examples"),
        .testTarget(name: "OctetCLITests", dependencies: ["OctetTestSupport", "octet"]),
    ]
)
