import ArgumentParser
import Foundation
import LocalBackend
import LocalSupervision
import Logging
import ServiceLifecycle
import TrainyardAPI
import TrainyardAggregator
import TrainyardAlerts
import TrainyardBackends
import TrainyardClient
import TrainyardConfiguration
import TrainyardCore
import TrainyardHTTP
import TrainyardKafka
import TrainyardObservability
import TrainyardStore
import TrainyardWorker

/// `trainyard worker`
struct RunWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Claim jobs from the requests topic and run them on the configured backends.")

    @OptionGroup var options: CommonOptions

    @Option(
        help: "Jobs run at once per backend target unless its entry says otherwise (env TRAINYARD_CONCURRENCY, default 16; simulated targets 4096).")
    var concurrency: Int?

    @Option(help: "Consumer group of the worker fleet.")
    var group = "trainyard-workers"

    @Option(help: "Partition assignment strategy: range, roundrobin or cooperative-sticky.")
    var assignmentStrategy = "range"

    @Option(help: "Folder of secret files for the local backend (env TRAINYARD_SECRETS_DIR).")
    var secretsDir: String?

    @Option(help: "Where /metrics, /healthz and /readyz are served (host:port; port 0 picks a free one).")
    var httpAddress = "127.0.0.1:9090"

    @Option(help: "Seconds between heartbeats of an attempt whose state does not change (the unobserved-job alert needs them).")
    var heartbeatInterval: Double = 60

    @Option(help: "Worker configuration file: backend targets and routing policy (env TRAINYARD_WORKER_CONFIG; default: one local target).")
    var config: String?

    @Flag(help: "Read the configuration file, print its targets and routing, and exit (status 0 when it is valid).")
    var checkConfig = false

    @Option(help: "Team quotas file, re-read when it changes (env TRAINYARD_QUOTAS; default: no quotas). See docs/fair-share.md.")
    var quotas: String?

    func run() async throws {
        let logger = options.logger("trainyard.worker")
        let environment = ProcessInfo.processInfo.environment
        if checkConfig {
            guard let path = config ?? environment["TRAINYARD_WORKER_CONFIG"] else {
                throw ValidationError("--check-config needs --config FILE (or TRAINYARD_WORKER_CONFIG)")
            }
            do {
                let file = try WorkerConfigFile.load(path: path)
                print("\(path): valid")
                for line in file.summary { print(line) }
                for line in file.secretPolicy.summary { print(line) }
                return
            } catch let error as ConfigFileError {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
        guard let strategy = KafkaAssignmentStrategy(rawValue: assignmentStrategy) else {
            throw ValidationError("unknown assignment strategy \(assignmentStrategy)")
        }
        let kafka = try options.kafka(clientID: "trainyard-worker")
        let configPath = config ?? environment["TRAINYARD_WORKER_CONFIG"]
        let file = try configPath.map(WorkerConfigFile.load(path:)) ?? .localOnly
        let workerConcurrency = concurrency ?? environment["TRAINYARD_CONCURRENCY"].flatMap(Int.init)
        let backendEnvironment = BackendEnvironment(
            stateDirectory: options.stateDirectory, secretsDirectory: secretsDir ?? environment["TRAINYARD_SECRETS_DIR"], logger: logger)
        let targets = try file.backends.map { entry in
            BackendTarget(
                name: entry.name, backend: try makeBackend(entry.settings, in: backendEnvironment),
                concurrencyLimit: entry.concurrency ?? workerConcurrency ?? entry.settings.defaultConcurrency, pricing: entry.pricing)
        }
        let router = try BackendRouter(targets: targets, policy: file.policy, secretPolicy: file.secretPolicy)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: logger)
        guard heartbeatInterval > 0 else { throw ValidationError("--heartbeat-interval must be positive") }
        let configuration = WorkerConfiguration(
            kafka: kafka, topics: options.topics, groupID: group, heartbeatInterval: .seconds(heartbeatInterval),
            assignmentStrategy: strategy)
        let registry = MetricsRegistry()
        let quotaFile = try (quotas ?? environment["TRAINYARD_QUOTAS"]).map(QuotaPolicyReloader.init(path:))
        let worker = try Worker(
            configuration: configuration, producer: producer, router: router, metrics: registry, logger: logger, quotas: quotaFile)
        let http = ObservabilityServer.make(
            address: try parseAddress(httpAddress), registry: registry, ready: { await worker.isReady }, logger: logger)
        // Shut down in reverse: the worker hands over first, then the backends' background work, then HTTP.
        try await runServices(
            [http] + targets.map { target in BackgroundService(description: "backend \(target.name)") { try await target.backend.run() } }
                + (quotaFile.map { [QuotaReloadService(file: $0, logger: logger)] } ?? [])
                + [StoppableService(description: "worker", body: { try await worker.run() }, stop: { await worker.shutdown() })],
            logger: logger)
        await producer.close()
    }

    /// A target whose settings cannot make a backend is refused like a bad flag (usage error).
    private func makeBackend(_ settings: BackendSettings, in environment: BackendEnvironment) throws -> any ComputeBackend {
        do { return try settings.makeBackend(in: environment) } catch let error as BackendTargetError { throw ValidationError(error.description) }
    }
}

/// `trainyard aggregator`
struct RunAggregator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator", abstract: "Apply requests and events to the SQLite store; publish the status topic.")

    @OptionGroup var options: CommonOptions

    @Option(help: "Consumer group (a second aggregator with its own store needs its own group).")
    var group = "trainyard-aggregator"

    @Option(help: "Where the HTTP API, dashboard, /metrics, /healthz and /readyz are served (host:port; port 0 picks a free one).")
    var httpAddress = "127.0.0.1:8080"

    @Option(help: "API key file (env TRAINYARD_API_KEYS, default <home>/api-keys.yaml if it exists; without one every API request gets 401).")
    var apiKeys: String?

    @Flag(
        inversion: .prefixedNo,
        help: "Publish job statuses to the status topic (--no-status-topic for a second aggregator that only verifies or rebuilds a store).")
    var statusTopic = true

    @Flag(inversion: .prefixedNo, help: "Evaluate alert rules and publish alerts (--no-alerts for a second aggregator).")
    var alerts = true

    @Option(help: "Alert rules and webhook (YAML; env TRAINYARD_ALERTS_CONFIG; default: the built-in thresholds, no webhook).")
    var alertsConfig: String?

    @Option(
        help:
            "The workers' configuration file: the secret policy the API checks at submit, and the targets job logs are read from (env TRAINYARD_WORKER_CONFIG; default: a team only its own secrets, logs from the local run directories under --state-dir)."
    )
    var workerConfig: String?

    @Option(
        help:
            "The workers' team quotas file: the dashboard shows each team's usage against it; re-read when it changes (env TRAINYARD_QUOTAS; default: usage without limits)."
    )
    var quotas: String?

    func run() async throws {
        let logger = options.logger("trainyard.aggregator")
        let alertConfiguration = try loadAlertConfiguration()
        let workerConfigPath = workerConfig ?? ProcessInfo.processInfo.environment["TRAINYARD_WORKER_CONFIG"]
        // Read once: the secret policy the API checks at submit, and the targets logs are read from.
        let workerConfigFile = try workerConfigPath.map(WorkerConfigFile.load(path:))
        let quotaFile = try (quotas ?? ProcessInfo.processInfo.environment["TRAINYARD_QUOTAS"]).map(QuotaPolicyReloader.init(path:))
        try options.prepareDirectory(for: options.databasePath)
        let store: JobStore
        let storeLock: StoreLock
        do {
            storeLock = try await lockStore(logger: logger)
            store = try JobStore(path: options.databasePath)
        } catch  where error is SQLiteError || error is StoreLockError {
            // A corrupt or foreign file, or a lock file that cannot be made: say which, and exit 2
            // like every other unusable configuration.
            printError("cannot use the store: \(error)")
            throw ExitCode(2)
        }
        defer { withExtendedLifetime(storeLock) {} }
        let registry = MetricsRegistry()
        let kafka = try options.kafka(clientID: "trainyard-aggregator")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(common: kafka), logger: logger)
        let publisher = StatusPublisher(store: store, producer: producer, topic: options.topics.status, metrics: registry, logger: logger)
        let aggregator = try Aggregator(
            configuration: AggregatorConfiguration(kafka: kafka, topics: options.topics, groupID: group),
            store: store, statusPublisher: publisher, metrics: registry, logger: logger)
        let keys = try loadAPIKeys(logger: logger)
        // The API reads through its own read-only connection (WAL: readers never block the writer).
        let apiStore = try JobStore(readingAt: options.databasePath)
        let requests = JobRequestPublisher(producer: producer, topic: options.topics.requests)
        let logSources = LogSources(
            makeLogSources(
                workerConfig: workerConfigFile, stateDirectory: options.stateDirectory, logger: logger))
        let api = APIServer(
            store: apiStore, authenticator: Authenticator(keys: keys), send: { try await requests.publish($0) },
            configuration: APIConfiguration(secretPolicy: workerConfigFile?.secretPolicy ?? .ownTeamOnly, quotas: quotaFile), logSources: logSources,
            logger: logger)
        let http = ObservabilityServer.make(
            address: try parseAddress(httpAddress), registry: registry, ready: { aggregator.isReady && apiStore.isReachable() }, logger: logger,
            configure: api.install(on:))
        let monitor = AlertMonitor(
            configuration: alertConfiguration, store: store, producer: producer, topic: options.topics.alerts,
            webhook: alertConfiguration.webhook.map { WebhookNotifier(settings: $0, logger: logger) }, isReady: { aggregator.isReady },
            metrics: registry, logger: logger)
        // Shut down in reverse: ingest stops (and commits) first, then the offset committer, the
        // alert monitor, the status publisher (which drains its outbox), and HTTP last.
        var services: [any Service] = [http]
        if let quotaFile { services.append(QuotaReloadService(file: quotaFile, logger: logger)) }
        if statusTopic {
            services.append(BackgroundService(description: "status publisher", body: { await publisher.run() }, finish: { await publisher.drain() }))
        }
        if alerts { services.append(BackgroundService(description: "alert monitor") { await monitor.run() }) }
        services.append(BackgroundService(description: "offset committer") { await aggregator.commitPeriodically() })
        services.append(StoppableService(description: "aggregator", body: { try await aggregator.run() }, stop: { await aggregator.shutdown() }))
        try await runServices(services, logger: logger)
        await logSources.shutdown()
        await producer.close()
    }
}

extension RunAggregator {
    /// The store's one-writer lock; while another aggregator holds it (an overlapping restart,
    /// or a second aggregator pointed at the same `--db` by mistake) this waits, saying so.
    func lockStore(logger: Logger) async throws -> StoreLock {
        let path = options.databasePath
        var lastWarning: ContinuousClock.Instant?
        while true {
            switch try StoreLock.acquire(store: path) {
            case .acquired(let lock): return lock
            case .held(let holder):
                if lastWarning.map({ $0.duration(to: .now) >= .seconds(30) }) ?? true {
                    logger.warning(
                        "waiting for the store \(path): another aggregator (\(holder.map { "pid \($0)" } ?? "pid unknown")) holds it; a second aggregator needs its own --db"
                    )
                    lastWarning = .now
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// The key file named by --api-keys or TRAINYARD_API_KEYS (it must exist), else
    /// `<home>/api-keys.yaml` when it exists, else none.
    func loadAPIKeys(logger: Logger) throws -> APIKeyRing {
        let named = apiKeys ?? ProcessInfo.processInfo.environment["TRAINYARD_API_KEYS"]
        let path = named ?? "\(options.home)/api-keys.yaml"
        guard named != nil || FileManager.default.fileExists(atPath: path) else {
            logger.warning("no API key file (--api-keys, TRAINYARD_API_KEYS or \(path)): every API request will get 401")
            return APIKeyRing(APIKeyFile(entries: []))
        }
        do {
            let file = try APIKeyFile(contentsOf: path)
            logger.info("API keys: \(file.entries.count) from \(path)")
            return APIKeyRing(file)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The alert rules: the file, else the defaults; the webhook URL (a credential) may come from
    /// TRAINYARD_ALERTS_WEBHOOK_URL, e.g. a Kubernetes Secret, instead of the file.
    private func loadAlertConfiguration() throws -> AlertConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var configuration =
            try (alertsConfig ?? environment["TRAINYARD_ALERTS_CONFIG"]).map { try ConfigFile.load(AlertConfiguration.self, path: $0) }
            ?? AlertConfiguration()
        if let url = environment["TRAINYARD_ALERTS_WEBHOOK_URL"], !url.isEmpty {
            guard AlertConfiguration.WebhookSettings.isWebhookURL(url) else {
                throw ValidationError("TRAINYARD_ALERTS_WEBHOOK_URL \(AlertConfiguration.WebhookSettings.urlRequirement)")
            }
            var webhook = configuration.webhook ?? AlertConfiguration.WebhookSettings(url: url)
            webhook.url = url
            configuration.webhook = webhook
        }
        return configuration
    }
}

/// `trainyard topics create`
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topics", abstract: "Manage Trainyard's topics.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Create the requests, events, status, alerts and dlq topics (existing ones are left as they are).")

        @OptionGroup var options: CommonOptions

        @Option(help: "Partitions per topic.")
        var partitions = 12

        @Option(help: "Replication factor.")
        var replicationFactor = 1

        func run() async throws {
            let admin = try KafkaAdmin(configuration: try options.kafka(clientID: "trainyard-admin"), logger: options.logger("topics"))
            let topics = options.topics
            let created = try await admin.createTopics(
                topics.all.map { name in
                    KafkaNewTopic(
                        name: name, partitions: partitions, replicationFactor: replicationFactor,
                        configs: name == topics.status ? ["cleanup.policy": "compact"] : [:])
                })
            for name in topics.all { print("\(name): \(created.contains(name) ? "created" : "exists")") }
        }
    }
}

/// `trainyard local-supervise DIR …` (started by the local backend when `trainyard-local-supervise`
/// is not installed beside this binary; not by people).
struct LocalSupervise: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-supervise", abstract: "Supervise one local attempt (internal).", shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() throws {
        let status = LocalSupervisor.main(arguments: arguments)
        if status != 0 { throw ExitCode(status) }
    }
}

func parseAddress(_ text: String) throws -> HTTPAddress {
    guard let address = HTTPAddress(text) else { throw ValidationError("--http-address takes host:port, got \"\(text)\"") }
    return address
}
