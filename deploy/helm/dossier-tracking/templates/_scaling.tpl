{{/*
A KEDA ScaledObject scaling a consumer Deployment on its group's lag. Arguments: root, component,
workload (optional), min, max, lagThreshold, topic (a `topics` entry), group.
Each partition is read by one member of a group at most, so more replicas than partitions would idle.
*/}}
{{- define "dossier.scaledObject" -}}
{{- if gt (int .max) (int .topic.partitions) -}}
{{- fail (printf "%s: maxReplicas %d exceeds the %d partitions of %s" .component (int .max) (int .topic.partitions) .topic.name) -}}
{{- end -}}
{{- if gt (int .min) (int .max) -}}
{{- fail (printf "%s: minReplicas %d exceeds maxReplicas %d" .component (int .min) (int .max)) -}}
{{- end -}}
{{- $target := include "dossier.name" (dict "root" .root "what" (ternary (printf "%s-%s" .component .workload) .component (not (empty .workload)))) -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $target }}
  labels:
    {{- include "dossier.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $target }}
  minReplicaCount: {{ .min }}
  maxReplicaCount: {{ .max }}
  pollingInterval: {{ .root.Values.autoscaling.pollingInterval }}
  cooldownPeriod: {{ .root.Values.autoscaling.cooldownPeriod }}
  triggers:
    - type: kafka
      metadata:
        bootstrapServers: {{ include "dossier.kafkaBootstrap" .root }}
        consumerGroup: {{ .group }}
        topic: {{ .topic.name }}
        lagThreshold: {{ .lagThreshold | quote }}
        offsetResetPolicy: earliest
        sasl: scram_sha512
        tls: enable
      authenticationRef:
        name: {{ include "dossier.name" (dict "root" .root "what" "kafka-lag") }}
{{- end -}}
