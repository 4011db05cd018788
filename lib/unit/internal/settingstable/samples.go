package settingstable

import "strings"

// samples are plausible values (as distributions' units write them) for
// settings whose value the loader checks: "Section.Key", or "*.Key" for the
// key in any section. They only need to be valid: the status comes from
// what the loader does with them. Settings not listed get a value from
// sampleByName. The sandboxing and resource settings are listed too, so
// that they keep a valid sample when they gain an implementation.
var samples = map[string]string{
	// [Unit]
	"Unit.FailureAction": "reboot", "Unit.SuccessAction": "reboot", "Unit.StartLimitAction": "reboot",
	"Unit.JobTimeoutAction": "reboot", "Unit.OnFailureJobMode": "replace", "Unit.OnSuccessJobMode": "replace",
	"Unit.RebootArgument": "1", "Unit.JobTimeoutRebootArgument": "1",
	"Unit.Documentation": "man:probe(8)", "Unit.Description": "Probe", "Unit.SourcePath": "/etc/fstab",
	"Unit.CollectMode": "inactive-or-failed",
	// [Install]
	"Install.Alias": "alias-probe.service", "Install.WantedBy": "multi-user.target",
	"Install.RequiredBy": "multi-user.target", "Install.UpheldBy": "multi-user.target",
	"Install.Also": "other.service", "Install.DefaultInstance": "x",
	// execution (systemd.exec(5)), in every section that has it
	"*.User": "nobody", "*.Group": "nogroup", "*.SupplementaryGroups": "adm", "*.DynamicUser": "yes",
	"*.WorkingDirectory": "-/srv", "*.RootDirectory": "/srv/root", "*.RootImage": "/srv/root.raw",
	"*.RootImageOptions": "root:ro", "*.RootHash": "/srv/root.roothash", "*.RootVerity": "/srv/root.verity",
	"*.RootHashSignature": "/srv/root.roothash.p7s", "*.MountImages": "/srv/app.raw:/srv/app",
	"*.ExtensionImages": "/srv/ext.raw", "*.ExtensionDirectories": "/srv/ext",
	"*.Environment": "A=1", "*.EnvironmentFile": "-/etc/default/probe", "*.PassEnvironment": "TERM",
	"*.UnsetEnvironment": "TERM", "*.UMask": "0077", "*.Nice": "5", "*.OOMScoreAdjust": "100",
	"*.CPUSchedulingPolicy": "other", "*.CPUSchedulingPriority": "0", "*.CPUAffinity": "0",
	"*.NUMAPolicy": "default", "*.NUMAMask": "0", "*.IOSchedulingClass": "best-effort",
	"*.IOSchedulingPriority": "4", "*.TimerSlackNSec": "50000", "*.Personality": "x86-64",
	"*.CoredumpFilter": "default", "*.KeyringMode": "private", "*.SecureBits": "keep-caps",
	"*.AmbientCapabilities": "CAP_NET_ADMIN", "*.CapabilityBoundingSet": "CAP_NET_ADMIN CAP_NET_RAW",
	"*.SystemCallFilter": "@system-service", "*.SystemCallArchitectures": "native",
	"*.SystemCallErrorNumber": "EPERM", "*.SystemCallLog": "@privileged",
	"*.RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "*.RestrictNamespaces": "yes",
	"*.RestrictFileSystems": "ext4", "*.RestrictNetworkInterfaces": "lo",
	"*.ProtectSystem": "strict", "*.ProtectHome": "yes", "*.ProtectProc": "invisible", "*.ProcSubset": "pid",
	"*.ReadWritePaths": "-/srv/data", "*.ReadOnlyPaths": "-/srv/ro", "*.InaccessiblePaths": "-/srv/secret",
	"*.ExecPaths": "/usr", "*.NoExecPaths": "/srv", "*.TemporaryFileSystem": "/srv:ro",
	"*.BindPaths": "-/srv/a", "*.BindReadOnlyPaths": "-/srv/b", "*.MountFlags": "shared",
	"*.PrivateTmp": "yes", "*.PrivateDevices": "yes", "*.PrivateNetwork": "yes", "*.PrivateUsers": "yes",
	"*.PrivateIPC": "yes", "*.PrivatePIDs": "yes", "*.PrivateMounts": "yes",
	"*.NetworkNamespacePath": "/run/netns/probe", "*.IPCNamespacePath": "/run/ipcns/probe",
	"*.UserNamespacePath": "/run/userns/probe", "*.ProtectHostname": "yes",
	"*.RuntimeDirectory": "probe", "*.StateDirectory": "probe", "*.CacheDirectory": "probe",
	"*.LogsDirectory": "probe", "*.ConfigurationDirectory": "probe",
	"*.RuntimeDirectoryMode": "0750", "*.StateDirectoryMode": "0750", "*.CacheDirectoryMode": "0750",
	"*.LogsDirectoryMode": "0750", "*.ConfigurationDirectoryMode": "0750",
	"*.RuntimeDirectoryPreserve": "restart", "*.StateDirectoryQuota": "1G", "*.CacheDirectoryQuota": "1G",
	"*.LogsDirectoryQuota": "1G",
	"*.StandardInput":      "null", "*.StandardOutput": "journal", "*.StandardError": "journal",
	"*.StandardInputText": "text", "*.StandardInputData": "dGV4dAo=",
	"*.SyslogIdentifier": "probe", "*.SyslogFacility": "daemon", "*.SyslogLevel": "info",
	"*.LogLevelMax": "info", "*.LogExtraFields": "PROBE=1", "*.LogRateLimitBurst": "100",
	"*.LogFilterPatterns": "~debug", "*.LogNamespace": "probe", "*.TTYPath": "/dev/tty1",
	"*.UtmpIdentifier": "tty1", "*.UtmpMode": "login", "*.SELinuxContext": "system_u:system_r:probe_t:s0",
	"*.AppArmorProfile": "probe", "*.SmackProcessLabel": "probe",
	"*.LoadCredential": "probe:/etc/probe.cred", "*.LoadCredentialEncrypted": "probe:/etc/probe.cred",
	"*.SetCredential": "probe:value", "*.SetCredentialEncrypted": "probe:value",
	"*.ImportCredential": "probe.*", "*.ImportCredentialEx": "probe.*",
	"*.LimitCPU": "infinity", "*.LimitFSIZE": "infinity", "*.LimitDATA": "infinity", "*.LimitSTACK": "8M",
	"*.LimitCORE": "0", "*.LimitRSS": "infinity", "*.LimitNOFILE": "1024:524288", "*.LimitAS": "infinity",
	"*.LimitNPROC": "100", "*.LimitMEMLOCK": "64M", "*.LimitLOCKS": "infinity", "*.LimitSIGPENDING": "100",
	"*.LimitMSGQUEUE": "819200", "*.LimitNICE": "0", "*.LimitRTPRIO": "0", "*.LimitRTTIME": "infinity",
	"*.KillMode": "mixed", "*.OOMPolicy": "stop", "*.ManagedOOMSwap": "kill",
	"*.ManagedOOMMemoryPressure": "kill", "*.ManagedOOMMemoryPressureLimit": "50%",
	"*.ManagedOOMPreference": "avoid",
	// resource control (systemd.resource-control(5))
	"*.Slice": "system.slice", "*.CPUQuota": "50%", "*.AllowedCPUs": "0", "*.StartupAllowedCPUs": "0",
	"*.AllowedMemoryNodes": "0", "*.StartupAllowedMemoryNodes": "0", "*.CPUSetPartition": "member",
	"*.TasksMax": "100", "*.DevicePolicy": "closed", "*.DeviceAllow": "/dev/null rw",
	"*.IPAddressAllow": "localhost", "*.IPAddressDeny": "any", "*.IPIngressFilterPath": "/sys/fs/bpf/in",
	"*.IPEgressFilterPath": "/sys/fs/bpf/out", "*.BPFProgram": "egress:/sys/fs/bpf/egress",
	"*.SocketBindAllow": "tcp:80", "*.SocketBindDeny": "any", "*.NFTSet": "cgroup:inet:filter:probe",
	"*.DisableControllers": "io", "*.Delegate": "yes", "*.DelegateSubgroup": "supervisor",
	"*.IODeviceWeight": "/dev/vda 200", "*.IOReadBandwidthMax": "/dev/vda 1M",
	"*.IOWriteBandwidthMax": "/dev/vda 1M", "*.IOReadIOPSMax": "/dev/vda 1000",
	"*.IOWriteIOPSMax": "/dev/vda 1000", "*.IODeviceLatencyTargetSec": "/dev/vda 25ms",
	"*.BlockIODeviceWeight": "/dev/vda 200", "*.BlockIOReadBandwidth": "/dev/vda 1M",
	"*.BlockIOWriteBandwidth": "/dev/vda 1M", "*.MemoryPressureWatch": "auto", "*.CPUPressureWatch": "auto",
	"*.IOPressureWatch": "auto", "*.MemoryZSwapWriteback": "yes", "*.CPUShares": "1024",
	"*.StartupCPUShares": "1024", "*.MemoryLimit": "100M", "*.BindNetworkInterface": "lo",
	"*.ConcurrencyHardMax": "10", "*.ConcurrencySoftMax": "5", "*.ActivatingConcurrencyMax": "5",
	// [Service]
	"Service.Type": "simple", "Service.ExitType": "main", "Service.Restart": "on-failure",
	"Service.RestartMode": "normal", "Service.RestartSteps": "3", "Service.PIDFile": "/run/probe.pid",
	"Service.BusName": "org.example.Probe", "Service.Sockets": "probe.socket",
	"Service.FileDescriptorStoreMax": "1", "Service.FileDescriptorStorePreserve": "restart",
	"Service.NotifyAccess": "main", "Service.USBFunctionDescriptors": "/srv/usb/descriptors",
	"Service.USBFunctionStrings": "/srv/usb/strings", "Service.TimeoutStartFailureMode": "terminate",
	"Service.TimeoutStopFailureMode": "terminate", "Service.OpenFile": "/etc/probe.conf:probe:read-only",
	"Service.ReloadSignal": "SIGHUP", "Service.RefreshOnReload": "yes",
	// [Socket]
	"Socket.ListenStream": "/run/probe.sock", "Socket.ListenDatagram": "/run/probe.dgram",
	"Socket.ListenSequentialPacket": "/run/probe.seqpacket", "Socket.ListenFIFO": "/run/probe.fifo",
	"Socket.ListenNetlink": "route 1", "Socket.ListenSpecial": "/dev/null",
	"Socket.ListenMessageQueue": "/probe", "Socket.ListenUSBFunction": "/dev/usb-ffs/probe",
	"Socket.SocketProtocol": "sctp", "Socket.BindIPv6Only": "both", "Socket.Backlog": "128",
	"Socket.BindToDevice": "lo", "Socket.SocketUser": "nobody", "Socket.SocketGroup": "nogroup",
	"Socket.SocketMode": "0660", "Socket.DirectoryMode": "0755", "Socket.MaxConnections": "64",
	"Socket.MaxConnectionsPerSource": "8", "Socket.KeepAliveProbes": "9", "Socket.Priority": "6",
	"Socket.ReceiveBuffer": "8M", "Socket.SendBuffer": "8M", "Socket.IPTOS": "low-delay", "Socket.IPTTL": "64",
	"Socket.Mark": "1", "Socket.PipeSize": "64K", "Socket.Timestamping": "off", "Socket.TCPCongestion": "cubic",
	"Socket.MessageQueueMaxMessages": "10", "Socket.MessageQueueMessageSize": "8192",
	"Socket.Symlinks": "/run/probe-link.sock", "Socket.FileDescriptorName": "probe",
	"Socket.Service": "probe.service", "Socket.TriggerLimitBurst": "5", "Socket.PollLimitBurst": "5",
	"Socket.DeferTrigger": "patient",
	// [Mount], [Automount], [Swap]
	"Mount.What": "/dev/vdb", "Mount.Where": "/srv/probe", "Mount.Type": "ext4", "Mount.Options": "ro",
	"Mount.DirectoryMode": "0755", "Automount.Where": "/srv/probe", "Automount.ExtraOptions": "ro",
	"Automount.DirectoryMode": "0755", "Swap.What": "/dev/vdc", "Swap.Priority": "1", "Swap.Options": "discard",
	// [Timer], [Path]
	"Timer.OnCalendar": "daily", "Timer.Unit": "probe.service",
	"Path.PathExists": "/srv/probe", "Path.PathExistsGlob": "/srv/probe*", "Path.PathChanged": "/srv/probe",
	"Path.PathModified": "/srv/probe", "Path.DirectoryNotEmpty": "/srv/probe", "Path.Unit": "probe.service",
	"Path.DirectoryMode": "0755", "Path.TriggerLimitBurst": "5",
}

// unitListKeys are the [Unit] settings that name other units.
var unitListKeys = map[string]bool{
	"Requires": true, "Requisite": true, "Wants": true, "BindsTo": true, "BindTo": true, "Upholds": true,
	"Conflicts": true, "Before": true, "After": true, "OnSuccess": true, "OnFailure": true,
	"PropagatesReloadTo": true, "PropagateReloadTo": true, "ReloadPropagatedFrom": true,
	"PropagateReloadFrom": true, "PropagatesStopTo": true, "StopPropagatedFrom": true, "PartOf": true,
	"JoinsNamespaceOf": true, "RequiresOverridable": true, "RequisiteOverridable": true,
}

// sampleValue is the value a setting is tried with.
func sampleValue(sec, key string) string {
	if v, ok := samples[sec+"."+key]; ok {
		return v
	}
	if v, ok := samples["*."+key]; ok {
		return v
	}
	if sec == "Unit" && unitListKeys[key] {
		return "other.service"
	}
	return sampleByName(key)
}

// sampleByName guesses a value from the shape of a setting's name.
func sampleByName(key string) string {
	switch {
	case strings.HasPrefix(key, "Exec"):
		return "/bin/true"
	case strings.HasPrefix(key, "Condition") || strings.HasPrefix(key, "Assert"):
		return conditionSample(strings.TrimPrefix(strings.TrimPrefix(key, "Condition"), "Assert"))
	case strings.HasSuffix(key, "MountsFor"):
		return "/srv/data"
	case strings.HasSuffix(key, "ExitStatus"):
		return "1"
	case strings.HasSuffix(key, "Burst") || strings.HasSuffix(key, "Max") && strings.HasPrefix(key, "Tasks"):
		return "5"
	case strings.HasSuffix(key, "Signal"):
		return "SIGTERM"
	case strings.HasPrefix(key, "Memory") && (strings.HasSuffix(key, "Max") || strings.HasSuffix(key, "High") ||
		strings.HasSuffix(key, "Low") || strings.HasSuffix(key, "Min")),
		strings.HasPrefix(key, "StartupMemory"):
		return "100M"
	case strings.HasSuffix(key, "Weight"):
		return "100"
	case strings.HasSuffix(key, "USec"), strings.HasSuffix(key, "Sec"):
		return "5s"
	}
	return "yes"
}

// conditionSample is a value for a Condition*=/Assert*= of kind k.
func conditionSample(k string) string {
	switch {
	case strings.HasPrefix(k, "Path") || strings.HasPrefix(k, "Directory") || strings.HasPrefix(k, "File"):
		return "/etc/probe"
	case k == "Architecture":
		return "x86-64"
	case k == "Virtualization":
		return "vm"
	case k == "KernelCommandLine":
		return "quiet"
	case k == "KernelVersion", k == "Version":
		return ">=5.10"
	case k == "Host":
		return "probe"
	case k == "Security":
		return "selinux"
	case k == "Capability":
		return "CAP_NET_ADMIN"
	case k == "User":
		return "root"
	case k == "Group":
		return "root"
	case k == "ControlGroupController":
		return "memory"
	case k == "Memory", k == "CPUs":
		return ">=1"
	case k == "Environment":
		return "PROBE=1"
	case k == "OSRelease":
		return "ID=debian"
	case k == "CPUFeature":
		return "sse2"
	case k == "Firmware":
		return "uefi"
	case k == "CPUPressure", k == "MemoryPressure", k == "IOPressure":
		return "10%%"
	case k == "KernelModuleLoaded":
		return "loop"
	case k == "NeedsUpdate":
		return "/var"
	}
	return "yes"
}
