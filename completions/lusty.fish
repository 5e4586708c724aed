# fish completion for lusty.
# The candidates come from `lusty __complete`, so this script stays the same
# when lusty gains commands or options.
function __lusty_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l program $tokens[1]
    set -e tokens[1]
    for entry in ($program __complete $tokens "$current" 2>/dev/null)
        switch $entry
            case ':dir'
                __fish_complete_directories "$current"
            case ':file'
                __fish_complete_path "$current"
            case '*'
                echo $entry
        end
    end
end

complete -c lusty -f -a '(__lusty_complete)'
