import Logging
import ServiceLifecycle

/// A long-running piece whose graceful shutdown is a call: `stop()` is called once when the
/// group shuts down, after which `run()` returns (the worker's hand-over, the aggregator's
/// final commit).
struct StoppableService: Service, CustomStringConvertible {
    let description: String
    let body: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // Throws when the body ended by itself and the group below was cancelled.
                do { try await gracefulShutdown() } catch { return }
                await stop()
            }
            try await body()
            group.cancelAll()
        }
    }
}

/// Background work that runs until the group shuts down, then is cancelled; `finish` runs
/// after that (e.g. the status publisher drains its outbox). Background work that ends by
/// itself (a backend with none) does not end the group.
struct BackgroundService: Service, CustomStringConvertible {
    let description: String
    let body: @Sendable () async throws -> Void
    var finish: @Sendable () async -> Void = {}

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await body() }
        await finish()
    }
}

/// Runs `services` in one ServiceGroup. SIGTERM and SIGINT start a graceful shutdown that
/// stops the services in the reverse of the listed order, each after the one listed after it
/// has returned; past `deadline` the rest are cancelled. A service that throws (e.g. the HTTP
/// port is taken) ends the group, and the error ends the process; the main pieces (HTTP, the
/// worker, the aggregator) returning also shut the group down.
func runServices(_ services: [any Service], stoppingWithin deadline: Duration = .seconds(60), logger: Logger) async throws {
    var configuration = ServiceGroupConfiguration(
        services: services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0, successTerminationBehavior: $0 is BackgroundService ? .ignore : .gracefullyShutdownGroup,
                failureTerminationBehavior: .cancelGroup)
        },
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    configuration.maximumGracefulShutdownDuration = deadline
    configuration.maximumCancellationDuration = .seconds(10)
    try await ServiceGroup(configuration: configuration).run()
}
