# bash completion for lusty.
# The candidates come from `lusty __complete`, so this script stays the same
# when lusty gains commands or options.
_lusty() {
    # Split the line ourselves: COMP_WORDS breaks "--template=x" at the '='.
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -ra words <<<"$line"
    [[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=("")
    local full=${words[-1]}
    local cur=${COMP_WORDS[COMP_CWORD]}
    # What bash will replace may be only the part of the word after a '=';
    # candidates lose the part before it.
    local strip=${full%"$cur"}

    local out IFS=$'\n'
    out=$("${COMP_WORDS[0]}" __complete "${words[@]:1}" 2>/dev/null) || return 0
    COMPREPLY=()
    local entry
    for entry in $out; do
        case $entry in
        :dir)
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -d -- "$cur"))
            ;;
        :file)
            compopt -o filenames 2>/dev/null
            COMPREPLY+=($(compgen -f -- "$cur"))
            ;;
        *)
            entry=${entry%%$'\t'*}
            COMPREPLY+=("${entry#"$strip"}")
            ;;
        esac
    done
}
complete -F _lusty lusty
