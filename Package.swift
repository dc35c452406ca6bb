// swift-tools-version:6.1
import PackageDescription

/// Where ops/install-deps put a librdkafka it built (Debian bookworm's is too old): linked with
/// an rpath so the binaries find it without LD_LIBRARY_PATH.
let rdkafkaLinkerSettings: [LinkerSetting] =
    Context.environment["TRAINYARD_RDKAFKA_LIBDIR"].map {
        [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", $0])]
    } ?? []

// Linux only (no `platforms`): the local backend reads /proc and uses Glibc directly.
let package = Package(
    name: "Trainyard",
    products: [
        .executable(name: "trainyard", targets: ["trainyard"]),
        .executable(name: "trainyard-local-supervise", targets: ["trainyard-local-supervise"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        // Without its default traits: no swift-configuration integration (we read our own settings).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0", traits: []),
        // The HTTP client of the Kubernetes and SageMaker adapters (streaming bodies for watches, TLS client certificates).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        // TLS settings (CA bundles, client certificates) and byte buffers for the HTTP client; already resolved through it.
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        // HTTPRequestPart / HTTPResponsePart for the request-header deadline handler; already resolved through Hummingbird.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        // One ServiceGroup runs each process's services (signals, shutdown order); already resolved through Hummingbird.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // HMAC-SHA256 for AWS SigV4.
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CRdkafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "TrainyardCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "TrainyardKafka",
            dependencies: ["CRdkafka", .product(name: "Logging", package: "swift-log")],
            linkerSettings: rdkafkaLinkerSettings
        ),
        .target(name: "TrainyardBackends", dependencies: ["TrainyardCore"]),
        // Fleet-wide team quotas: the claims log's records and its fold (pure, no I/O).
        .target(name: "TrainyardQuota", dependencies: ["TrainyardCore"]),
        .target(name: "TrainyardObservability", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(
            name: "TrainyardHTTP",
            dependencies: [
                "TrainyardObservability", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .target(
            name: "TrainyardAPI",
            dependencies: [
                "TrainyardCore", "TrainyardStore", "TrainyardBackends", "TrainyardQuota", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
            ],
            // Served byte for byte at /openapi.yaml; compiled in, so the binary needs no resource bundle.
            resources: [.embedInCode("openapi.yaml")]
        ),
        .target(name: "TrainyardClient", dependencies: ["TrainyardCore", "TrainyardKafka"]),
        // The local backend's supervisor: the C library and the Swift runtime only, so it starts fast.
        .target(name: "LocalSupervision"),
        .executableTarget(
            name: "trainyard-local-supervise", dependencies: ["LocalSupervision"],
            linkerSettings: [.unsafeFlags(["-static-executable"], .when(platforms: [.linux]))]
        ),
        .target(
            name: "LocalBackend",
            dependencies: ["TrainyardCore", "TrainyardBackends", "LocalSupervision", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "SimulatedBackend", dependencies: ["TrainyardCore", "TrainyardBackends", "TrainyardStore"]),
        .target(
            name: "TrainyardKubernetes",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "KubernetesBackend",
            dependencies: [
                "TrainyardCore", "TrainyardBackends", "TrainyardKubernetes", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TrainyardAWS",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SageMakerBackend",
            dependencies: [
                "TrainyardCore", "TrainyardBackends", "TrainyardAWS", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TrainyardWorker",
            dependencies: [
                "TrainyardCore", "TrainyardKafka", "TrainyardBackends", "TrainyardObservability",
                .product(name: "Logging", package: "swift-log"), "TrainyardQuota",
            ]
        ),
        .target(
            name: "TrainyardStore",
            dependencies: ["TrainyardCore", "CSQLite", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "TrainyardAggregator",
            dependencies: [
                "TrainyardCore", "TrainyardKafka", "TrainyardStore", "TrainyardObservability",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Alert rules over the store, the alerts topic and the webhook (its own HTTP client).
        .target(
            name: "TrainyardAlerts",
            dependencies: [
                "TrainyardCore", "TrainyardKafka", "TrainyardStore", "TrainyardObservability",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "TrainyardTesting",
            dependencies: ["TrainyardCore", "TrainyardKafka", "TrainyardStore", .product(name: "Logging", package: "swift-log")]
        ),
        // The worker's configuration file and the backend factories it drives.
        .target(
            name: "TrainyardConfiguration",
            dependencies: [
                "TrainyardCore", "TrainyardBackends", "LocalBackend", "KubernetesBackend", "TrainyardKubernetes", "SageMakerBackend",
                "TrainyardAWS", "SimulatedBackend", "LocalSupervision", .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                "TrainyardQuota",
            ]
        ),
        .executableTarget(
            name: "trainyard",
            dependencies: [
                "TrainyardCore", "TrainyardKafka", "TrainyardBackends", "LocalBackend", "LocalSupervision", "TrainyardConfiguration",
                "TrainyardWorker",
                "TrainyardStore", "TrainyardAggregator", "TrainyardAlerts", "TrainyardObservability", "TrainyardHTTP",
                "TrainyardAPI", "TrainyardClient", "SimulatedBackend",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "trainyard-bench",
            dependencies: ["TrainyardKafka", "TrainyardStore", "TrainyardCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "TrainyardConfigurationTests",
            dependencies: [
                "TrainyardConfiguration", "TrainyardBackends", "TrainyardCore", "SageMakerBackend", "TrainyardTesting", "LocalSupervision",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TrainyardCoreTests",
            dependencies: ["TrainyardCore", "TrainyardStore", "TrainyardTesting", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "TrainyardQuotaTests", dependencies: ["TrainyardQuota", "TrainyardCore", "TrainyardConfiguration", "TrainyardTesting"]),
        .testTarget(name: "TrainyardStoreTests", dependencies: ["TrainyardCore", "TrainyardStore", "TrainyardTesting"]),
        .testTarget(
            name: "TrainyardWorkerTests",
            dependencies: ["TrainyardWorker", "TrainyardBackends", "TrainyardCore", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "TrainyardAlertsTests", dependencies: ["TrainyardAlerts", "TrainyardStore", "TrainyardCore", "TrainyardTesting"]),
        .testTarget(
            name: "TrainyardAPITests",
            dependencies: [
                "TrainyardAPI", "TrainyardCore", "TrainyardStore", "TrainyardTesting", "TrainyardBackends", "TrainyardQuota",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .testTarget(name: "TrainyardAWSTests", dependencies: ["TrainyardAWS", "TrainyardTesting"]),
        .testTarget(name: "TrainyardClientTests", dependencies: ["TrainyardClient", "TrainyardCore", "TrainyardTesting"]),
        .testTarget(
            name: "SageMakerBackendTests",
            dependencies: ["SageMakerBackend", "TrainyardAWS", "TrainyardBackends", "TrainyardCore", "TrainyardTesting"]),
        .testTarget(
            name: "SimulatedBackendTests", dependencies: ["SimulatedBackend", "TrainyardBackends", "TrainyardCore", "TrainyardTesting"]),
        .testTarget(name: "TrainyardKafkaTests", dependencies: ["TrainyardKafka", "TrainyardTesting"]),
        .testTarget(
            name: "KubernetesBackendTests",
            dependencies: [
                "KubernetesBackend", "TrainyardKubernetes", "TrainyardBackends", "TrainyardCore", "TrainyardTesting",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TrainyardCore", "TrainyardKafka", "TrainyardStore", "TrainyardAggregator", "TrainyardObservability", "TrainyardTesting",
                "LocalBackend", "TrainyardAPI", "TrainyardAWS", "SageMakerBackend", "TrainyardBackends", "SimulatedBackend", "TrainyardHTTP",
                "TrainyardWorker", "LocalSupervision", .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
    ]
)
