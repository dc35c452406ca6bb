import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes

/// Turns one attempt of a spec into the batch/v1 Job that runs it. Pure.
public enum KubernetesJobMapper {
    /// Every object Trainyard creates carries it; the watches select on it.
    public static let managedByLabel = (key: "app.kubernetes.io/managed-by", value: "trainyard")
    /// `key=value` form of ``managedByLabel`` for label selectors.
    public static var managedBySelector: String { "\(managedByLabel.key)=\(managedByLabel.value)" }

    /// The Job for `identity`; fails for specs Kubernetes cannot run.
    public static func job(for identity: BackendIdentity, spec: JobSpec, configuration: KubernetesBackendConfiguration) throws(BackendError)
        -> KubernetesJob
    {
        let name = identity.resourceName
        guard isDNSLabel(name) else { throw BackendError(.invalidRequest, "\(name) is not a valid Kubernetes name (DNS label, ≤ 63 characters)") }
        guard let image = spec.image, !image.isEmpty else {
            throw BackendError(.invalidRequest, "the kubernetes backend needs `image` in the spec")
        }
        var labels = identity.labels
        labels[managedByLabel.key] = managedByLabel.value
        let container = KubernetesContainer(
            name: configuration.mainContainerName, image: image, command: spec.command.isEmpty ? nil : spec.command,
            args: spec.args.isEmpty ? nil : spec.args, env: environment(identity, spec), envFrom: secretSources(spec),
            resources: resources(spec.resources))
        let podSpec = KubernetesPodSpec(
            restartPolicy: "Never", containers: [container], nodeSelector: configuration.nodeSelector.isEmpty ? nil : configuration.nodeSelector,
            tolerations: configuration.tolerations.isEmpty ? nil : configuration.tolerations, serviceAccountName: configuration.serviceAccountName)
        return KubernetesJob(
            metadata: KubernetesObjectMeta(
                name: name, namespace: configuration.namespace, labels: labels, annotations: ["trainyard.io/job-name": spec.name]),
            spec: KubernetesJob.Spec(
                // Trainyard owns retries: each attempt is its own Job with a single pod.
                backoffLimit: 0, activeDeadlineSeconds: spec.maxRuntimeSeconds, ttlSecondsAfterFinished: configuration.ttlSecondsAfterFinished,
                podFailurePolicy: KubernetesJob.PodFailurePolicy(rules: [
                    // Evictions, preemption, node loss and drains fail the Job with reason PodFailurePolicy
                    // (an infrastructure failure) instead of looking like the code failed.
                    .init(action: "FailJob", onPodConditions: [.init(type: "DisruptionTarget", status: "True")])
                ]),
                template: KubernetesPodTemplate(metadata: KubernetesObjectMeta(labels: labels), spec: podSpec)))
    }

    /// Literal variables plus the attempt's identity, sorted; secrets with a key become `secretKeyRef`s.
    static func environment(_ identity: BackendIdentity, _ spec: JobSpec) -> [KubernetesContainer.EnvVar] {
        var literal = spec.env
        literal["TRAINYARD_JOB_ID"] = identity.jobID.rawValue
        literal["TRAINYARD_ATTEMPT"] = String(identity.attempt)
        let values = literal.sorted { $0.key < $1.key }.map { KubernetesContainer.EnvVar(name: $0.key, value: $0.value) }
        let references = spec.secrets.compactMap { secret in
            secret.key.map { KubernetesContainer.EnvVar(name: secret.env, secretName: secret.secretName, key: $0) }
        }
        return values + references
    }

    /// Secrets without a key: every key of the secret becomes `<env>_<KEY>` (`envFrom` with a prefix).
    static func secretSources(_ spec: JobSpec) -> [KubernetesContainer.EnvFromSource]? {
        let sources = spec.secrets.filter { $0.key == nil }.map { KubernetesContainer.EnvFromSource(prefix: "\($0.env)_", secretName: $0.secretName) }
        return sources.isEmpty ? nil : sources
    }

    /// Requests equal limits (Guaranteed QoS, so an attempt is not evicted first under pressure).
    static func resources(_ resources: Resources) -> KubernetesContainer.Resources {
        var quantities = [
            "cpu": "\(Int((resources.cpu * 1000).rounded(.up)))m",
            "memory": "\(resources.memoryMiB)Mi",
        ]
        if resources.gpu > 0 { quantities["nvidia.com/gpu"] = String(resources.gpu) }
        return KubernetesContainer.Resources(requests: quantities, limits: quantities)
    }

    /// RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, ≤ 63.
    static func isDNSLabel(_ text: String) -> Bool {
        guard (1...63).contains(text.count), let first = text.first, let last = text.last else { return false }
        let allowed = { (c: Character) in c.isASCII && (c.isLowercase || c.isNumber || c == "-") }
        return text.allSatisfy(allowed) && first != "-" && last != "-"
    }
}
