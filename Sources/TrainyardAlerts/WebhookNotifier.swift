import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import TrainyardCore

/// POSTs alert notifications to a Slack-compatible incoming webhook, with retries.
///
/// The body is Slack's `{"text": …}` plus the full alert under `alert`, so a chat channel shows
/// one line and a program gets the same fields as the alerts topic.
public struct WebhookNotifier: Sendable {
    public let settings: AlertConfiguration.WebhookSettings
    private let client: HTTPClient
    private let logger: Logger

    public init(settings: AlertConfiguration.WebhookSettings, client: HTTPClient = .shared, logger: Logger) {
        self.settings = settings
        self.client = client
        self.logger = logger
    }

    /// The JSON body for `alert`. The summary carries job-controlled text (names, a termination
    /// message, a FailureReason), so its Slack control characters are escaped in `text`: no
    /// `<!channel>` mention, no `<url|text>` link disguised as something else.
    public static func body(for alert: AlertMessage) throws -> Data {
        struct Body: Encodable {
            var text: String
            var alert: AlertMessage
        }
        let marker = alert.status == .firing ? "[FIRING] \(alert.severity.rawValue)" : "[RESOLVED]"
        return try WireFormat.encoder().encode(Body(text: "\(marker) \(slackEscaped(alert.summary))", alert: alert))
    }

    /// `&`, `<` and `>` as Slack's message formatting wants them escaped.
    public static func slackEscaped(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Delivers `alert`, retrying timeouts, connection errors, 429 and 5xx with exponential
    /// backoff and full jitter. - Returns: false when it gave up (the alert is on the topic regardless).
    public func send(_ alert: AlertMessage) async -> Bool {
        let body: Data
        do { body = try Self.body(for: alert) } catch {
            logger.error("cannot encode alert \(alert.alertID) for the webhook: \(error)")
            return false
        }
        for attempt in 1...max(1, settings.maxAttempts) {
            var request = HTTPClientRequest(url: settings.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "trainyard-aggregator")
            request.body = .bytes(ByteBuffer(bytes: body))
            let problem: String
            do {
                let response = try await client.execute(request, timeout: .milliseconds(Int64(settings.timeoutSeconds * 1000)))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                let status = Int(response.status.code)
                if (200..<300).contains(status) { return true }
                problem = "HTTP \(status)"
                guard status == 429 || status >= 500 else {
                    logger.error("webhook refused alert \(alert.alertID) (\(problem)); not retrying")
                    return false
                }
            } catch {
                problem = "\(error)"
            }
            guard attempt < settings.maxAttempts else {
                logger.error("webhook failed \(attempt) times for alert \(alert.alertID) (last: \(problem)); giving up")
                return false
            }
            let cap = min(30.0, 0.25 * pow(2, Double(attempt - 1)))
            logger.warning("webhook delivery of alert \(alert.alertID) failed (\(problem)); retrying")
            try? await Task.sleep(for: .milliseconds(Int64(Double.random(in: 0...cap) * 1000)))
        }
        return false
    }
}
