import Logging
import ServiceLifecycle
import TrainyardConfiguration

/// Re-reads the quotas file (a worker's, or the aggregator's for its dashboard) every few seconds
/// when it changed, so quotas change without a restart; a broken file is logged and the last good
/// quotas stay in force.
struct QuotaReloadService: Service, CustomStringConvertible {
    let file: QuotaPolicyReloader
    let logger: Logger
    var description: String { "quota reloader" }

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(2))
                switch file.reloadIfChanged() {
                case .unchanged: break
                case .reloaded: logger.info("quotas reloaded", metadata: ["path": "\(file.path)"])
                case .refused(let error): logger.error("quotas file refused, the previous quotas stay in force: \(error)")
                }
            }
        }
    }
}
