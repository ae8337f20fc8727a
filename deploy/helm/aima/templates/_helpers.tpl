{{/* Names, labels and the pieces every AIMA pod shares. */}}
{{- define "aima.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aima.fullname" -}}
{{- if eq .Release.Name .Chart.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aima.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aima.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aima.labels" -}}
{{ include "aima.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aima.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "aima.gpuImage" -}}
{{ .Values.gpuImage.repository }}:{{ .Values.gpuImage.tag }}
{{- end -}}

{{- define "aima.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "aima.fullname" .) -}}
{{- end -}}

{{/* Settings for every AIMA container: the ConfigMap, the Secret, the Ray address. */}}
{{- define "aima.envFrom" -}}
- configMapRef:
    name: {{ include "aima.fullname" . }}
- secretRef:
    name: {{ include "aima.secretName" . }}
{{- end -}}

{{- define "aima.rayAddress" -}}
{{- if eq .Values.ray.mode "external" -}}
{{ required "ray.address is required when ray.mode is external" .Values.ray.address }}
{{- else if eq .Values.ray.mode "kuberay" -}}
{{ include "aima.fullname" . }}-ray-head-svc:6379
{{- else -}}
{{ include "aima.fullname" . }}-ray-head:6379
{{- end -}}
{{- end -}}

{{/* Writable places on a read-only root file system. */}}
{{- define "aima.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
- name: home
  mountPath: /home/aima
{{- if .Values.models.existingClaim }}
- name: models
  mountPath: /models
  readOnly: true
{{- end }}
{{- end -}}

{{- define "aima.volumes" -}}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.dataVolume.sizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
- name: home
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.models.existingClaim }}
- name: models
  persistentVolumeClaim:
    claimName: {{ .Values.models.existingClaim }}
    readOnly: true
{{- end }}
{{- end -}}
