import AsyncHTTPClient
import Foundation
import NIOCore

/// The events of one watch response, decoded line by line as the body arrives.
///
/// Iteration ends when the server closes the stream; it throws `transient` when the connection
/// drops and on a malformed line. A silent half-open connection is the caller's to bound (the
/// server closes a healthy watch after its `timeoutSeconds`).
public struct KubernetesWatchStream<Object: Codable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = KubernetesWatchEvent<Object>
    let body: HTTPClientResponse.Body

    public func makeAsyncIterator() -> Iterator {
        Iterator(body: body.makeAsyncIterator())
    }

    /// Yields decoded events; buffers lines that arrived in one chunk.
    public struct Iterator: AsyncIteratorProtocol {
        var body: HTTPClientResponse.Body.AsyncIterator
        var splitter = KubernetesWatchLineSplitter()
        var ready: [[UInt8]] = []

        public mutating func next() async throws -> Element? {
            while ready.isEmpty {
                let chunk: ByteBuffer?
                do {
                    chunk = try await body.next()
                } catch {
                    throw KubernetesError(.transient, "watch stream interrupted: \(error)")
                }
                guard let chunk else { return nil }
                ready = splitter.append(chunk.readableBytesView)
            }
            let line = ready.removeFirst()
            do {
                return try KubernetesWatchEventDecoder.decode(line, as: Object.self)
            } catch {
                throw KubernetesError(.transient, "malformed watch event: \(error)")
            }
        }
    }
}
