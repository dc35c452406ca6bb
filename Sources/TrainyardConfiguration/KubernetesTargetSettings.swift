import Foundation
import KubernetesBackend
import Logging
import TrainyardBackends
import TrainyardKubernetes

/// `type: kubernetes`: one namespace of one cluster.
///
/// ```yaml
/// - name: k8s-search-gpu
///   type: kubernetes
///   namespace: search-ml
///   teamNamespaces: {ads: ads-ml}   # a team's jobs in its own namespace; other teams in `namespace`
///   kubeconfig: /etc/trainyard/kubeconfig   # absent: in-cluster service account, else $KUBECONFIG
///   nodeSelector: {nvidia.com/gpu.product: A100}
///   tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
/// ```
public struct KubernetesTargetSettings: Decodable, Sendable {
    /// Default: the kubeconfig context's or the service account's namespace, else `default`.
    var namespace: String?
    /// Namespaces of the teams whose jobs run elsewhere than `namespace`, by team.
    var teamNamespaces: [String: String]?
    /// A kubeconfig file; absent: in-cluster when running in a pod, else `KUBECONFIG` / `~/.kube/config`.
    var kubeconfig: String?
    /// A kubeconfig context other than `current-context`.
    var context: String?
    var nodeSelector: [String: String]?
    var tolerations: [KubernetesToleration]?
    var serviceAccountName: String?
    var ttlSecondsAfterFinished: Int?
    /// How long an image pull or a missing secret may keep a pod from starting before the attempt fails.
    var startFailureGraceSeconds: Double?
    var relistIntervalSeconds: Double?
    var watchTimeoutSeconds: Int?

    func makeBackend(logger: Logger) throws -> any ComputeBackend {
        let connection = try KubernetesConnectionLoader.automatic(kubeconfigPath: kubeconfig, context: context)
        let defaults = KubernetesBackendConfiguration(namespace: "")
        let configuration = KubernetesBackendConfiguration(
            namespace: namespace ?? connection.defaultNamespace ?? "default", nodeSelector: nodeSelector ?? [:], tolerations: tolerations ?? [],
            serviceAccountName: serviceAccountName, ttlSecondsAfterFinished: ttlSecondsAfterFinished ?? defaults.ttlSecondsAfterFinished,
            waitingFailureGrace: startFailureGraceSeconds.map { .seconds($0) } ?? defaults.waitingFailureGrace,
            relistInterval: relistIntervalSeconds.map { .seconds($0) } ?? defaults.relistInterval,
            watchTimeoutSeconds: watchTimeoutSeconds ?? defaults.watchTimeoutSeconds)
        let client = try KubernetesClient(connection: connection, logger: logger)
        if let teamNamespaces, !teamNamespaces.isEmpty {
            return KubernetesTeamNamespaces(configuration: configuration, teamNamespaces: teamNamespaces, client: client, logger: logger)
        }
        return KubernetesBackend(configuration: configuration, client: client, logger: logger)
    }
}
