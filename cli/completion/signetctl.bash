# SPDX-License-Identifier: ISC
# bash completion for signetctl(1): commands, their options, -o values and
# the context names of the configuration file. Needs nothing but bash
# (bash-completion's helpers are not required).

# The configuration file signetctl would read: --config, SIGNET_CONFIG,
# $XDG_CONFIG_HOME/signet/signetctl.conf, ~/.config/signet/signetctl.conf.
_signetctl_config() {
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--config=*) printf '%s\n' "${COMP_WORDS[i]#--config=}"; return ;;
		--config) printf '%s\n' "${COMP_WORDS[i + 1]}"; return ;;
		esac
	done
	if [ -n "${SIGNET_CONFIG:-}" ]; then
		printf '%s\n' "$SIGNET_CONFIG"
	elif [ "${XDG_CONFIG_HOME:0:1}" = / ]; then
		printf '%s\n' "$XDG_CONFIG_HOME/signet/signetctl.conf"
	else
		printf '%s\n' "$HOME/.config/signet/signetctl.conf"
	fi
}

# The context names: the [NAME] sections of the configuration file.
_signetctl_contexts() {
	local f
	f=$(_signetctl_config)
	[ -r "$f" ] || return 0
	sed -n 's/^[[:space:]]*\[\([a-z0-9][a-z0-9._-]*\)\][[:space:]]*$/\1/p' "$f"
}

# COMPREPLY from compgen's lines (words never split on spaces).
_signetctl_reply() {
	mapfile -t COMPREPLY < <(compgen "$@")
}

_signetctl() {
	local cur prev cmd="" sub="" i w opts
	local common="--server --cert --key --ca --context --config -o --output --json -h --help"
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=""
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# The values of options.
	case $prev in
	--context) _signetctl_reply -W "$(_signetctl_contexts)" -- "$cur"; return ;;
	-o | --output) _signetctl_reply -W "table json" -- "$cur"; return ;;
	--cert | --key | --ca | --config | --action-key | --agent-keys | \
	--keys | --signed | --out | --signing-key | --log-key | --checkpoint | \
	--proof | --witness-key)
		_signetctl_reply -f -- "$cur"; return ;;
	--server | --reason | --wait | --after | --limit | --interval | \
	--host | --state | --expect-head | --passphrase-fd | --threshold | \
	--groups | --not-after-days | --days | --valid | --name | --origin)
		return ;;
	--log) _signetctl_reply -W "server agent/" -- "$cur"; return ;;
	--role) _signetctl_reply -W "operator auditor" -- "$cur"; return ;;
	esac
	case $cur in
	--context=*)
		_signetctl_reply -P --context= -W "$(_signetctl_contexts)" -- "${cur#--context=}"
		return ;;
	--output=*)
		_signetctl_reply -P --output= -W "table json" -- "${cur#--output=}"
		return ;;
	esac

	# The command words, skipping options and their values.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--server | --cert | --key | --ca | --context | --config | -o | \
		--output | --reason | --wait | --after | --limit | --interval | \
		--host | --state | --action-key | --agent-keys | --agent-host | \
		--expect-head | \
		--passphrase-fd | --keys | --threshold | --groups | \
		--not-after-days | --signed | --out | --days | --signing-key | \
		--valid | --name | --log-key | --log | --origin | --checkpoint | \
		--proof | --witness-key | --role)
			i=$((i + 1)); continue ;;
		-*) continue ;;
		esac
		if [ -z "$cmd" ]; then
			cmd=$w
		elif [ -z "$sub" ] && { [ "$cmd" = audit ] || [ "$cmd" = context ] ||
		    [ "$cmd" = roster ] || [ "$cmd" = approval ]; }; then
			sub=$w
		fi
	done

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			_signetctl_reply -W "$common --version" -- "$cur"
		else
			_signetctl_reply -W "hosts containers action action-status audit approvals approval approve refuse keygen enroll roster context version help" -- "$cur"
		fi
		return
	fi
	case $cmd in
	audit | context | roster | approval)
		if [ -z "$sub" ]; then
			if [ "$cmd" = audit ]; then
				_signetctl_reply -W "tail verify reconcile export witness witness-key" -- "$cur"
			elif [ "$cmd" = approval ]; then
				_signetctl_reply -W "show" -- "$cur"
			elif [ "$cmd" = roster ]; then
				_signetctl_reply -W "show edit sign" -- "$cur"
			else
				_signetctl_reply -W "list show" -- "$cur"
			fi
			return
		fi ;;
	esac
	case $cmd${sub:+ $sub} in
	hosts | action-status | approvals | "approval show") opts=$common ;;
	approve) opts="$common --signing-key --passphrase-fd --wait" ;;
	refuse) opts="$common --reason" ;;
	containers) opts="$common --host --state" ;;
	action)
		opts="$common --reason --wait --no-wait --signing-key --passphrase-fd --valid"
		if [[ $cur != -* ]]; then
			# CONTAINER-ID start|stop|restart
			local n=0
			for ((i = 1; i < COMP_CWORD; i++)); do
				[[ ${COMP_WORDS[i]} != -* ]] && n=$((n + 1))
			done
			[ "$n" -eq 2 ] && _signetctl_reply -W "start stop restart" -- "$cur"
			return
		fi ;;
	"audit tail") opts="$common --after --limit --follow --interval" ;;
	"audit verify")
		opts="--key --agent-host --action-key --agent-keys --expect-head --roster --roster-keys --roster-threshold --checkpoint --witness-key --jobs -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -f -- "$cur"; return; } ;;
	"audit export")
		opts="--key --since --until --event -o --output -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -f -- "$cur"; return; } ;;
	"audit witness")
		opts="$common --signing-key --name --state --log-key --log --origin --no-submit --checkpoint --proof --out" ;;
	"audit witness-key") opts="--signing-key --name -h --help" ;;
	"audit reconcile")
		opts="--server --agent --key --action-key --agent-keys --roster --roster-keys --roster-threshold --checkpoint --witness-key -o --output --json --out -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -f -- "$cur"; return; } ;;
	"context list") opts=$common ;;
	"context show")
		opts=$common
		[[ $cur != -* ]] && { _signetctl_reply -W "$(_signetctl_contexts)" -- "$cur"; return; } ;;
	keygen) opts="--passphrase-fd --no-passphrase --raw -h --help" ;;
	enroll) opts="--role --out -h --help" ;;
	version) opts="-h --help" ;;
	"roster show")
		opts="--keys --threshold -o --output --json -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -f -- "$cur"; return; } ;;
	"roster edit")
		opts="--key --groups --not-after-days --signed --days -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -W "add remove" -f -- "$cur"; return; } ;;
	"roster sign")
		opts="--key --out --keys --days --passphrase-fd -h --help"
		[[ $cur != -* ]] && { _signetctl_reply -f -- "$cur"; return; } ;;
	*) return ;;
	esac
	_signetctl_reply -W "$opts" -- "$cur"
}
complete -F _signetctl signetctl
