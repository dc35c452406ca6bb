import AsyncHTTPClient
import Foundation
import NIOCore

/// Options of `GET /api/v1/namespaces/{namespace}/pods/{name}/log` (Kubernetes API reference,
/// "Read Log" of Pod v1 core).
public struct KubernetesPodLogOptions: Sendable {
    public var container: String
    /// Stream until the container ends (or the server closes the connection).
    public var follow: Bool
    /// The previous, terminated instance of a restarted container.
    public var previous: Bool
    public var tailLines: Int?

    public init(container: String, follow: Bool = false, previous: Bool = false, tailLines: Int? = nil) {
        self.container = container
        self.follow = follow
        self.previous = previous
        self.tailLines = tailLines
    }
}

extension KubernetesClient {
    /// The pod's container log as it arrives (`text/plain`), in chunks of whole lines (a last
    /// line without a line end comes at the end), so a character is never cut between chunks.
    /// One request, not retried: a reader that needs more asks again.
    public func podLog(_ name: String, namespace: String, options: KubernetesPodLogOptions) async throws(KubernetesError) -> AsyncThrowingStream<
        String, any Error
    > {
        var query = ["container": options.container]
        if options.follow { query["follow"] = "true" }
        if options.previous { query["previous"] = "true" }
        if let tail = options.tailLines { query["tailLines"] = String(tail) }
        var request = try makeRequest(.GET, path: "/api/v1/namespaces/\(namespace)/pods/\(name)/log", query: query, body: nil)
        request.headers.replaceOrAdd(name: "Accept", value: "text/plain, */*")
        let response: HTTPClientResponse
        do {
            // A followed log stays open as long as the container runs.
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            throw KubernetesError(.transient, "get pods/log \(name): \(error)")
        }
        guard response.status == .ok else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            let status = body.flatMap { try? JSONDecoder().decode(KubernetesStatus.self, from: Data($0.readableBytesView)) }
            throw KubernetesError.from(statusCode: Int(response.status.code), status: status, verb: "get", resource: "pods/log", namespace: namespace)
        }
        return Self.lines(of: response.body, pod: name)
    }

    private static func lines(of body: HTTPClientResponse.Body, pod: String) -> AsyncThrowingStream<String, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await chunk in body {
                        pending += chunk.readableBytesView
                        guard let end = pending.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                        continuation.yield(String(decoding: pending[...end], as: UTF8.self))
                        pending.removeSubrange(...end)
                    }
                    if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: KubernetesError(.transient, "pods/log \(pod) interrupted: \(error)"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
