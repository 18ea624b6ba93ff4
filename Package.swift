// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "LocalLearning",
    products: [
        .library(name: "LocalLearning", targets: ["LocalLearning"]),
        .executable(name: "locallearn", targets: ["locallearn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(name: "CPlatform"),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        .target(
            name: "LocalLearning",
            dependencies: ["CBLAS", "CZlib", "CPlatform"],
            resources: [.copy("Resources/fashion-mnist-subset")]
        ),
        // What the tools build on the engine: configs, comparisons, suites, reports, experiments.
        .target(
            name: "LocalLearningTools",
            dependencies: ["LocalLearning", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "LocalLearningMPI",
            dependencies: ["LocalLearning", "CMPI"]
        ),
        .executableTarget(
            name: "locallearn",
            dependencies: [
                "LocalLearning",
                "LocalLearningTools",
                "LocalLearningMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "LocalLearningTests",
            dependencies: ["LocalLearning", "LocalLearningTools", "LocalLearningMPI"]
        ),
    ]
)
